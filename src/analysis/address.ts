// Text forms of link and network addresses, matching what tshark prints.

/** "a.b.c.d" from the 4 bytes at `offset`. */
export function formatIpv4(data: Uint8Array, offset: number): string {
  return Array.from(data.subarray(offset, offset + 4), (b) => String(b)).join('.');
}

/**
 * RFC 5952 text for the 16 bytes at `offset`: lower-case hex, no leading zeros, the longest
 * run of two or more zero groups (the first, on a tie) written as "::", and IPv4-mapped
 * addresses as ::ffff:a.b.c.d.
 */
export function formatIpv6(data: Uint8Array, offset: number): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) {
    groups.push(((data[offset + 2 * i] ?? 0) << 8) | (data[offset + 2 * i + 1] ?? 0));
  }
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${formatIpv4(data, offset + 12)}`;
  }
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (gs: number[]): string => gs.map((g) => g.toString(16)).join(':');
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLength))}`;
}

/** "aa:bb:cc:dd:ee:ff" (or as many octets as `length`). */
export function formatMac(data: Uint8Array, offset: number, length = 6): string {
  return Array.from(data.subarray(offset, offset + length), (b) => b.toString(16).padStart(2, '0')).join(':');
}
