/**
 * `npm run transfer -- --from A --to B[,C] --filename F [--as NAME] [--mode pull|relay]`
 * — copies a file between peers of the network, verified by SHA-256 end to end
 * (the same as `edgepeer transfer`).
 */
import { main } from "./cli/main";
import { transfer } from "./cli/commands/transfer";

process.exitCode = await main(process.argv.slice(2), transfer);
