// What the struct client and server agree on: two 32-bit ints and a 32-bit float, in native byte
// order with standard sizes and no padding. Python: struct.pack("=iif", 1, 4, 2.7), 12 bytes.
export const FORMAT = '=iif';
export const DEFAULT_VALUES = [1, 4, 2.7] as const;
