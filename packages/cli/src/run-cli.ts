/**
 * Run the `blvnet` CLI in this process and capture what it prints (tests, benchmarks): the exit code,
 * stdout (console.log) and stderr (console.error) as text. The console is restored afterwards.
 */
import { main } from "./cli.js";

export interface CliResult {
  code: number;
  out: string;
  err: string;
}

export async function runCli(...args: string[]): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const { log, error } = console;
  console.log = (...a: unknown[]) => void out.push(a.join(" "));
  console.error = (...a: unknown[]) => void err.push(a.join(" "));
  try {
    const code = await main(["node", "blvnet", ...args]);
    return { code, out: out.join("\n"), err: err.join("\n") };
  } finally {
    console.log = log;
    console.error = error;
  }
}
