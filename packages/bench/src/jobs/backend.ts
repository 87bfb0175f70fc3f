import { isOrtBackend } from "@blvnet/engine-onnx";
import { initBackend, requestedBackend } from "@blvnet/engine-tfjs";
import type { EngineKind } from "@blvnet/train";

/** The backend accuracy rows record: "ort" for the ort engine, else the tfjs backend that `asked` (or BLVNET_BACKEND) selects; an ort name asks for the best tfjs one. */
export async function trainBackend(engine: EngineKind, asked: string | undefined): Promise<string> {
  if (engine === "ort") return "ort";
  const name = requestedBackend(asked);
  return initBackend(name && !isOrtBackend(name) ? name : undefined);
}
