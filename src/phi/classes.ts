// The identifier classes the PHI screen reports, and their wording in messages.

export type PhiClass = 'ssn' | 'mbi' | 'npi' | 'dea' | 'mrn' | 'patient_id' | 'member_id' | 'account_number' | 'health_plan_id' | 'dob';

/** Human wording used in messages, e.g. ssn → 'a US Social Security number'. */
export const PHI_CLASS_WORDS: Record<PhiClass, string> = {
  ssn: 'a US Social Security number',
  mbi: 'a Medicare Beneficiary Identifier',
  npi: 'a National Provider Identifier (NPI)',
  dea: 'a DEA registration number',
  mrn: 'a medical record number',
  patient_id: 'a patient ID',
  member_id: 'a health plan member ID',
  account_number: 'an account number',
  health_plan_id: 'a health plan beneficiary number',
  dob: 'a date of birth',
};
