// Tests only (tests/conftest.py preloads it into every node the suite starts, with NODE_OPTIONS).
//
// The Prisma CLI run through prisma-offline (the WebAssembly schema engine over the pg driver
// adapter) leaves two 10 s timers behind once its work is done: the schema engine's advisory-lock
// timeout, which is never cancelled, and pg-pool's idle-connection timer. Node waits for them before
// it exits: about 10 s after every `migrate deploy`. Unref'd, they still fire while anything else
// keeps node busy (a deploy queued for the lock still gives up after 10 s, with P1002), but no
// longer keep node alive when they are all that is left. Prisma's work is unchanged.
"use strict";
const original = global.setTimeout;
function setTimeout(callback, ms, ...args) {
  const timer = original(callback, ms, ...args);
  if (ms === 10000 && typeof timer?.unref === "function") {
    const stack = new Error().stack ?? "";
    if (/[\\/](pg-pool|prisma[\\/]build)[\\/]/.test(stack)) {
      timer.unref();
    }
  }
  return timer;
}
// util.promisify(setTimeout) and friends read properties of the original.
Object.defineProperties(setTimeout, Object.getOwnPropertyDescriptors(original));
global.setTimeout = setTimeout;
