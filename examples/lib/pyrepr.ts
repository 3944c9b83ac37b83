// Formats values the way Python's repr() does, so that the TypeScript programs print exactly what
// the lab's Python programs print (b'Hola, mundo', ('127.0.0.1', 54321), 2.700000047683716).
import type { AddressInfo } from 'node:net';

/** repr() of a Python bytes object. */
export function bytesRepr(data: Uint8Array): string {
  // Python picks double quotes only when the bytes contain ' and no ".
  const quote = data.includes(0x27) && !data.includes(0x22) ? '"' : "'";
  let out = 'b' + quote;
  for (const byte of data) {
    if (byte === 0x5c) out += '\\\\';
    else if (byte === quote.charCodeAt(0)) out += '\\' + quote;
    else if (byte === 0x09) out += '\\t';
    else if (byte === 0x0a) out += '\\n';
    else if (byte === 0x0d) out += '\\r';
    else if (byte < 0x20 || byte >= 0x7f) out += '\\x' + byte.toString(16).padStart(2, '0');
    else out += String.fromCharCode(byte);
  }
  return out + quote;
}

/** repr() of a Python str (enough for addresses and plain text: escapes quotes, \\ and controls). */
export function strRepr(text: string): string {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0;
    if (ch === '\\') out += '\\\\';
    else if (ch === quote) out += '\\' + quote;
    else if (ch === '\t') out += '\\t';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (code < 0x20 || code === 0x7f) out += '\\x' + code.toString(16).padStart(2, '0');
    else out += ch;
  }
  return out + quote;
}

/**
 * repr() of a Python float. JavaScript and Python both print the shortest digits that read back
 * as the same double; they differ only in layout (Python writes 1.0, 1e+16 and 1e-05).
 */
export function floatRepr(value: number): string {
  if (Number.isNaN(value)) return 'nan';
  if (!Number.isFinite(value)) return value > 0 ? 'inf' : '-inf';
  if (value === 0) return Object.is(value, -0) ? '-0.0' : '0.0';
  const [mantissa = '', exp = '0'] = Math.abs(value).toExponential().split('e');
  const digits = mantissa.replace('.', '');
  const exponent = Number(exp);
  const sign = value < 0 ? '-' : '';
  // Python switches to scientific notation when the exponent is < -4 or >= 16.
  if (exponent < -4 || exponent >= 16) {
    const frac = digits.length > 1 ? '.' + digits.slice(1) : '';
    const e = Math.abs(exponent).toString().padStart(2, '0');
    return `${sign}${digits[0]}${frac}e${exponent < 0 ? '-' : '+'}${e}`;
  }
  if (exponent < 0) return `${sign}0.${'0'.repeat(-exponent - 1)}${digits}`;
  const whole = digits.slice(0, exponent + 1).padEnd(exponent + 1, '0');
  const frac = digits.slice(exponent + 1) || '0';
  return `${sign}${whole}.${frac}`;
}

/** repr() of a tuple whose items are already formatted. */
export function tupleRepr(items: readonly string[]): string {
  return items.length === 1 ? `(${items[0]},)` : `(${items.join(', ')})`;
}

/** How Python prints a socket address: ('127.0.0.1', 54321), or a 4-tuple for IPv6. */
export function addrRepr(addr: Pick<AddressInfo, 'address' | 'port' | 'family'>): string {
  const items = [strRepr(addr.address), String(addr.port)];
  if (addr.family === 'IPv6') items.push('0', '0'); // flowinfo, scope_id
  return tupleRepr(items);
}

/** Python's binascii.hexlify(data) as printed by repr(): b'0100000004000000cdcc2c40'. */
export function hexlifyRepr(data: Uint8Array): string {
  return `b'${Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('hex')}'`;
}
