const what = process.argv[2];
if (what !== "none") await import(what);
globalThis.gc?.();
const m = process.memoryUsage();
const hwm = /^VmHWM:\s+(\d+)\s+kB$/m.exec((await import("node:fs")).readFileSync("/proc/self/status", "utf8"));
console.log(what, "heapUsed", (m.heapUsed/1048576).toFixed(1), "heapTotal", (m.heapTotal/1048576).toFixed(1), "rss", (m.rss/1048576).toFixed(1), "hwm", (Number(hwm[1])/1024).toFixed(1), "ext", (m.external/1048576).toFixed(1));
