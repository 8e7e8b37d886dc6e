/** `edgepeer` — the command line client of a peer network (docs/cli.md). */
import { main } from "./cli/main";

process.exitCode = await main(process.argv.slice(2));
