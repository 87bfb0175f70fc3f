import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

type Transfer = (this: ArrayBuffer, newLength?: number) => ArrayBuffer;

let transfer: Transfer | null | undefined;

/**
 * ArrayBuffer.prototype.transfer, native from Node 21; Node 20's V8 has it behind
 * --harmony-rab-gsab-transfer, which set at run time installs it in contexts created after
 * (a fresh vm context here; it works on this realm's buffers). Null where neither is possible.
 */
function transferFn(): Transfer | null {
  if (transfer !== undefined) return transfer;
  const native = (ArrayBuffer.prototype as { transfer?: Transfer }).transfer;
  if (native) return (transfer = native);
  try {
    setFlagsFromString("--harmony-rab-gsab-transfer");
    transfer = (runInNewContext("ArrayBuffer.prototype.transfer") as Transfer | undefined) ?? null;
  } catch {
    transfer = null;
  }
  return transfer;
}

/**
 * Free an ArrayBuffer's memory now instead of at a later GC: it is detached (length 0; every view
 * of it reads as empty). The caller must hold the only use of it. Returns false where the runtime
 * cannot detach (the buffer is then left to the GC).
 */
export function freeArrayBuffer(buffer: ArrayBuffer): boolean {
  const t = transferFn();
  if (!t) return false;
  t.call(buffer, 0);
  return true;
}
