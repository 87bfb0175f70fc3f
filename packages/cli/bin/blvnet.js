#!/usr/bin/env node
// The `blvnet` command: runs the compiled CLI (built by `npm ci` / `npm run build`).
import { main } from "../dist/cli.js";

main(process.argv).then(
  (code) => process.exit(code),
  (err) => {
    console.error(err?.stack ?? String(err));
    process.exit(1);
  },
);
