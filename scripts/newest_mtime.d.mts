export function newestMtime(dir: string): number;
