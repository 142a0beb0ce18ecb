// The generated document (see document.ts), as the text /openapi.json answers with.
import doc from './openapi.json';

let text: string | null = null;
export const openapiText = () => (text ??= JSON.stringify(doc));
