/** The words the user typed after `blvnet` for the command running now (for advice such as a resume command). */
let current: string[] = [];

export function setInvocation(args: string[]): void {
  current = args;
}

export function invocation(): string[] {
  return ["blvnet", ...current];
}
