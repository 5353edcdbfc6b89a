const what = process.argv[2];
await import(what);
const hwm = /^VmHWM:\s+(\d+)\s+kB$/m.exec((await import("node:fs")).readFileSync("/proc/self/status", "utf8"));
console.log(what, Number(hwm[1])/1024);
