/**
 * The parts of `yaml` that loadSpec uses, in a module of their own so that load-spec.ts can load
 * them with `import()` on first use (issue 11: yaml is ~3 MiB of RSS that `import "@weir/runtime"`
 * does not need). An `import()` of yaml itself would not do: yaml is CommonJS, and bundled
 * (scripts/bundle.mjs) its dynamic import has a default export only.
 */
export { isMap, isNode, isScalar, LineCounter, parseDocument } from "yaml";
