// What every file reader returns: plain rows (one object per example).

export type Row = Record<string, any>;
