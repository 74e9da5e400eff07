/**
 * This boot: its id (the control block and the durable slots name the boot they were written in)
 * and when it started (a data file last modified before it was written before a reboot).
 */
import * as fs from 'node:fs';

let bootId: Buffer | undefined;
let bootTime: number | undefined;

/** 16 bytes naming this boot; zeros when the kernel does not say (then a reboot goes unnoticed). */
export function currentBootId(): Buffer {
  if (bootId) return bootId;
  try {
    const hex = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'latin1').trim().replace(/-/g, '');
    bootId = hex.length === 32 ? Buffer.from(hex, 'hex') : Buffer.alloc(16);
  } catch {
    bootId = Buffer.alloc(16);
  }
  return bootId;
}

/** When this boot started, in ms since the epoch (from /proc/uptime); 0 when unknown. */
export function bootTimeMs(): number {
  if (bootTime !== undefined) return bootTime;
  try {
    const uptime = Number(fs.readFileSync('/proc/uptime', 'latin1').split(' ')[0]);
    bootTime = Number.isFinite(uptime) ? Date.now() - uptime * 1000 : 0;
  } catch {
    bootTime = 0;
  }
  return bootTime;
}

/**
 * @internal For tests and power-loss simulations: from now on, this process is in another boot
 * (a new random id) that started `startedMs` (default: now). Files written before look written
 * before a reboot; their durable slots name an earlier boot.
 */
export function pretendReboot(startedMs = Date.now()): void {
  bootId = Buffer.from(Array.from({ length: 16 }, () => Math.floor(Math.random() * 256)));
  bootTime = startedMs;
}
