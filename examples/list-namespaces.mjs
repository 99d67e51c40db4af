// Every namespace visible in /proc, as lsns(8) lists them, and the
// namespaces of this process.
import { Namespace } from 'nsjs';

const all = await Namespace.list();
for (const ns of all) console.log(`${ns.type.padEnd(6)} ${ns.inode}  ${String(ns.nprocs).padStart(4)} processes, first ${ns.pid} (${ns.command})`);

const mine = Namespace.current('net'); // an nsfs fd: close it when done
const ours = all.find((ns) => ns.type === 'net' && ns.inode === mine.inode);
console.log(`this process is in ${mine}, shared with ${ours.nprocs - 1} other processes`);
mine.close();
