export function processStartTime(pid: number): string | undefined;
export function sameProcessAlive(pid: number, startedAt?: string): boolean;
