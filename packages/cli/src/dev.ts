// Development entry: `npx tsx --conditions=source packages/bench/src/dev.ts <args>` runs the CLI from source.
import { main } from "./cli.js";

main(process.argv).then((code) => process.exit(code));
