export const isCI = globalThis.process?.env?.CI === 'true';
