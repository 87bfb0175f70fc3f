/**
 * Model options declared once: a schema of typed specs gives the TypeScript options type
 * (`OptionsOf<typeof schema>`), the help text (`describeOption`) and the checks the registry runs
 * before `create` (`resolveOptions`), each failure a one-line UserError naming model, option and range.
 *
 *   const schema = { depth: int(50, "ResNet depth", { choices: [50, 101] }), dropout: float(0.5, "...", { min: 0, below: 1 }) };
 *   type Options = OptionsOf<typeof schema>; // { depth: number; dropout: number }
 */
export type OptionType = "int" | "float" | "string" | "boolean";
export type OptionValue = number | string | boolean;

export interface OptionSpec<V extends OptionValue = OptionValue> {
  type: OptionType;
  default: V;
  description: string;
  choices?: readonly V[];
  /** Inclusive lower bound (numbers). */
  min?: number;
  /** Inclusive upper bound (numbers). */
  max?: number;
  /** Exclusive upper bound (numbers), e.g. a probability below 1. */
  below?: number;
  /** Integers only: must be even / odd. */
  parity?: "even" | "odd";
}

/** A named spec, as listed by `ModelEntry.options` (and `blvnet models`). */
export type ModelOption = OptionSpec & { name: string };

export type OptionSchema = Record<string, OptionSpec>;
export type OptionsOf<S extends OptionSchema> = { [K in keyof S]: S[K]["default"] };
/** Resolved options of any model, untyped (what provenance records and commands pass around). */
export type ModelOptions = Record<string, OptionValue>;

type NumberRules = Pick<OptionSpec<number>, "min" | "max" | "below" | "choices">;

export function int(dflt: number, description: string, rules: NumberRules & { parity?: "even" | "odd" } = {}): OptionSpec<number> {
  return { type: "int", default: dflt, description, ...rules };
}

export function float(dflt: number, description: string, rules: NumberRules = {}): OptionSpec<number> {
  return { type: "float", default: dflt, description, ...rules };
}

export function choice<const V extends string>(choices: readonly V[], dflt: NoInfer<V>, description: string): OptionSpec<V> {
  return { type: "string", default: dflt, description, choices };
}

export function bool(dflt: boolean, description: string): OptionSpec<boolean> {
  return { type: "boolean", default: dflt, description };
}

/** What a value must be, in words: "an odd integer >= 1", "a number in [0, 1)", "one of 50, 101". */
export function allowedRange(o: OptionSpec): string {
  if (o.choices) return `one of ${o.choices.join(", ")}`;
  if (o.type === "boolean") return "true or false";
  if (o.type === "string") return "a string";
  const kind = o.type === "int" ? `${o.parity ? `an ${o.parity} ` : "an "}integer` : "a number";
  const hi = o.below !== undefined ? `${o.below})` : o.max !== undefined ? `${o.max}]` : undefined;
  if (o.min !== undefined && hi) return `${kind} in [${o.min}, ${hi}`;
  if (o.min !== undefined) return `${kind} >= ${o.min}`;
  if (o.below !== undefined) return `${kind} < ${o.below}`;
  if (o.max !== undefined) return `${kind} <= ${o.max}`;
  return kind;
}

function allowed(o: OptionSpec, v: OptionValue): boolean {
  if (o.choices) return o.choices.includes(v);
  if (typeof v !== "number") return true;
  if (o.type === "int" && !Number.isInteger(v)) return false;
  if (o.parity && Math.abs(v % 2) !== (o.parity === "odd" ? 1 : 0)) return false;
  return !((o.min !== undefined && v < o.min) || (o.max !== undefined && v > o.max) || (o.below !== undefined && v >= o.below));
}

/** One help line: `--depth <int> {50|101|152}  bLResNet depth (default 50)`. */
export function describeOption(o: ModelOption): string {
  const range = o.choices ? ` {${o.choices.join("|")}}` : "";
  const bounds =
    !o.choices && (o.min !== undefined || o.max !== undefined || o.below !== undefined || o.parity) ? `; ${allowedRange(o)}` : "";
  return `--${o.name} <${o.type}>${range}  ${o.description} (default ${String(o.default)}${bounds})`;
}

/** An error caused by user input: the CLI prints its message alone (no stack) and exits 2. */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    // One line whatever a file put into the message (key names, paths): control characters are escaped.
    // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
    super(message.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`));
    this.name = "UserError";
  }
}

/**
 * Fill defaults, coerce strings from the command line and check every value against its spec,
 * then the cross-field `check`. Unknown names are errors.
 */
export function resolveOptions<S extends OptionSchema>(
  model: string,
  schema: S,
  given: Record<string, unknown>,
  check?: (o: OptionsOf<S>) => string | undefined,
): OptionsOf<S> {
  const names = Object.keys(schema);
  for (const k of Object.keys(given)) {
    if (given[k] !== undefined && !(k in schema))
      throw new UserError(`model "${model}" has no option "${k}"; options: ${names.join(", ")}`);
  }
  const out: Record<string, OptionValue> = {};
  for (const [name, o] of Object.entries(schema)) {
    const raw = given[name];
    let v: OptionValue = o.default;
    if (raw !== undefined) {
      if (o.type === "int" || o.type === "float") {
        v = typeof raw === "number" ? raw : typeof raw === "string" && raw.trim() !== "" ? Number(raw) : Number.NaN;
        if (!Number.isFinite(v)) throw new UserError(`option ${name} of model "${model}" must be ${allowedRange(o)}, got "${String(raw)}"`);
      } else if (o.type === "boolean") {
        v = raw === true || raw === "true" || raw === "1";
      } else v = String(raw);
    }
    if (!allowed(o, v)) throw new UserError(`option ${name} of model "${model}" must be ${allowedRange(o)}, got ${JSON.stringify(v)}`);
    out[name] = v;
  }
  const resolved = out as OptionsOf<S>;
  const problem = check?.(resolved);
  if (problem) throw new UserError(`model "${model}": ${problem}`);
  return resolved;
}
