#!/usr/bin/env node
// The bundled CLI (scripts/bundle.mjs): it starts in a fraction of the time of dist/cli/main.js,
// the same program as ES modules.
import "../dist/cli-bundle/main.js";
