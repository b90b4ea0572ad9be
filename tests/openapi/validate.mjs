// Validates an OpenAPI document (a file, as served by `tug server`) against the OpenAPI 3.1
// specification's schema with @seriousme/openapi-schema-validator, and resolves every $ref.
// Exit 0 when valid; 1 with the errors otherwise.  node validate.mjs openapi.json
import { readFile } from "node:fs/promises";
import { Validator } from "@seriousme/openapi-schema-validator";

const file = process.argv[2];
if (!file) {
  console.error("usage: node validate.mjs FILE");
  process.exit(2);
}
const document = JSON.parse(await readFile(file, "utf8"));
const validator = new Validator();
const result = await validator.validate(document);
if (!result.valid) {
  console.error("not a valid OpenAPI document:");
  console.error(JSON.stringify(result.errors, null, 2));
  process.exit(1);
}
if (validator.version !== "3.1") {
  console.error(`the document is OpenAPI ${validator.version}; expected 3.1`);
  process.exit(1);
}
try {
  validator.resolveRefs();
} catch (e) {
  console.error(`a $ref does not resolve: ${e.message}`);
  process.exit(1);
}
console.log(`valid OpenAPI ${validator.version}: ${Object.keys(document.paths).length} paths`);
