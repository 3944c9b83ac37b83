// Frame dissection on hand-written byte vectors: every link type, IPv4 options, IPv6
// extension headers, TCP options, Ethernet padding, VLAN tags, snap-length truncation and
// malformed headers (checked by issue code, never by message).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatIpv6 } from '../../src/analysis/address.ts';
import { LinkType } from '../../src/analysis/link-types.ts';
import { dissect, flagNames, type Packet, TcpFlag } from '../../src/analysis/packet.ts';
import { hex } from './pcap-build.ts';

const ETH_IPV4 = 'ffffffffffff 020000000001 0800';
const ETH_IPV6 = 'ffffffffffff 020000000001 86dd';

/** IPv4 header: 20 bytes, total length `total`, protocol `proto`, 192.168.0.1 → 192.168.0.199. */
function ipv4Header(total: number, proto: number, flagsAndOffset = '4000'): string {
  return `45 00 ${total.toString(16).padStart(4, '0')} 1c46 ${flagsAndOffset} 40 ${proto.toString(16).padStart(2, '0')} 0000 c0a80001 c0a800c7`;
}

/** SYN from 12345 to 80 with MSS 1460, SACK permitted, timestamps, NOP, window scale 7: 40 bytes. */
const TCP_SYN_WITH_OPTIONS = `
  3039 0050 01020304 00000000 a002 faf0 0000 0000  # ports, seq, ack, offset 10, SYN, window
  020405b4                                          # MSS 1460
  0402                                              # SACK permitted
  080a 0000000b 00000000                            # timestamps 11 / 0
  01                                                # NOP
  030307                                            # window scale 7
`;

/** UDP 5353 → 53 carrying "hi". */
const UDP_HI = '14e9 0035 000a 0000 6869';

function bytesSum(p: Packet): number {
  const b = p.bytes;
  return b.link + b.ip + b.transport + b.payload + b.trailer;
}

function codes(p: Packet): string[] {
  return p.issues.map((i) => `${i.layer}:${i.code}`);
}

describe('Ethernet, IPv4, TCP', () => {
  it('splits a SYN with options into its layers', () => {
    const frame = hex(ETH_IPV4 + ipv4Header(60, 6) + TCP_SYN_WITH_OPTIONS);
    const p = dissect(frame, LinkType.ETHERNET);
    assert.deepEqual(p.issues, []);
    assert.equal(p.link?.kind, 'ethernet');
    assert.equal(p.link?.source, '02:00:00:00:00:01');
    assert.equal(p.link?.destination, 'ff:ff:ff:ff:ff:ff');
    assert.equal(p.ip?.source, '192.168.0.1');
    assert.equal(p.ip?.destination, '192.168.0.199');
    assert.equal(p.ip?.ttl, 64);
    assert.ok(p.ip?.version === 4 && p.ip.dontFragment && p.ip.fragment === null);
    assert.deepEqual(p.bytes, { link: 14, ip: 20, transport: 40, payload: 0, trailer: 0 });
    const tcp = p.transport;
    assert.ok(tcp?.protocol === 'tcp');
    assert.equal(tcp.sourcePort, 12345);
    assert.equal(tcp.destinationPort, 80);
    assert.equal(tcp.seq, 0x01020304);
    assert.equal(tcp.flags, TcpFlag.SYN);
    assert.deepEqual(flagNames(tcp.flags), ['SYN']);
    assert.equal(tcp.window, 0xfaf0);
    assert.equal(tcp.mss, 1460);
    assert.equal(tcp.sackPermitted, true);
    assert.deepEqual(tcp.timestamp, { value: 11, echo: 0 });
    assert.equal(tcp.windowScale, 7);
    assert.deepEqual(
      tcp.options.map((o) => o.kind),
      [2, 4, 8, 1, 3],
    );
    assert.equal(tcp.optionsTruncated, false);
  });

  it('takes the payload length from the IP header and counts Ethernet padding as trailer', () => {
    // 14 + 20 + 8 + 2 = 44 bytes, padded with zeros to the 60-byte Ethernet minimum.
    const frame = hex(ETH_IPV4 + ipv4Header(30, 17) + UDP_HI + '00'.repeat(16));
    const p = dissect(frame, LinkType.ETHERNET);
    assert.deepEqual(p.issues, []);
    assert.equal(frame.length, 60);
    assert.deepEqual(p.bytes, { link: 14, ip: 20, transport: 8, payload: 2, trailer: 16 });
    assert.deepEqual(p.payload, hex('6869'));
    assert.ok(p.transport?.protocol === 'udp' && p.transport.sourcePort === 5353 && p.transport.destinationPort === 53);
  });

  it('counts IPv4 options in the IP header', () => {
    // IHL 6: a 4-byte router-alert option.
    const frame = hex(ETH_IPV4 + '46 00 0022 0001 0000 01 11 0000 0a000001 0a000002' + '94040000' + UDP_HI);
    const p = dissect(frame, LinkType.ETHERNET);
    assert.deepEqual(p.issues, []);
    assert.ok(p.ip?.version === 4);
    assert.equal(p.ip.optionsLength, 4);
    assert.deepEqual(p.bytes, { link: 14, ip: 24, transport: 8, payload: 2, trailer: 0 });
    assert.equal(p.ip.source, '10.0.0.1');
  });

  it('reads data segments: flags, ack, payload view', () => {
    const frame = hex(ETH_IPV4 + ipv4Header(45, 6) + '3039 0050 00000010 00000020 5018 0100 0000 0000' + 'hello'.split('').map((c) => c.charCodeAt(0).toString(16)).join(''));
    const p = dissect(frame, LinkType.ETHERNET);
    assert.ok(p.transport?.protocol === 'tcp');
    assert.equal(p.transport.flags, TcpFlag.ACK | TcpFlag.PSH);
    assert.equal(p.transport.ack, 0x20);
    assert.equal(new TextDecoder().decode(p.payload), 'hello');
    assert.equal(p.payloadOffset, 54);
    assert.equal(p.payload.buffer, frame.buffer, 'the payload is a view, not a copy');
  });

  it('marks IPv4 fragments and does not read a transport header inside later ones', () => {
    const first = dissect(hex(ETH_IPV4 + ipv4Header(30, 17, '2000') + UDP_HI), LinkType.ETHERNET);
    assert.deepEqual(first.ip?.fragment, { offset: 0, moreFragments: true, identification: 0x1c46 });
    assert.equal(first.transport?.protocol, 'udp');
    assert.deepEqual(first.issues, [], 'a first fragment may be shorter than its UDP length field');

    const later = dissect(hex(ETH_IPV4 + ipv4Header(30, 17, '00b9') + UDP_HI), LinkType.ETHERNET);
    assert.deepEqual(later.ip?.fragment, { offset: 1480, moreFragments: false, identification: 0x1c46 });
    assert.equal(later.transport, null);
    assert.deepEqual(later.bytes, { link: 14, ip: 20, transport: 0, payload: 10, trailer: 0 });
  });

  it('treats an IPv4 total length of 0 (segmentation offload) as the rest of the frame', () => {
    const p = dissect(hex(ETH_IPV4 + ipv4Header(0, 17) + UDP_HI), LinkType.ETHERNET);
    assert.ok(p.ip?.version === 4 && p.ip.totalLengthField === 0 && p.ip.totalLength === 30);
    assert.deepEqual(p.bytes, { link: 14, ip: 20, transport: 8, payload: 2, trailer: 0 });
  });
});

describe('VLAN tags', () => {
  it('follows one 802.1Q tag', () => {
    const frame = hex('ffffffffffff 020000000001 8100 2064 0800' + ipv4Header(30, 17) + UDP_HI);
    const p = dissect(frame, LinkType.ETHERNET);
    assert.deepEqual(p.issues, []);
    assert.deepEqual(p.link?.vlanTags, [{ tpid: 0x8100, priority: 1, dropEligible: false, id: 100 }]);
    assert.equal(p.link?.etherType, 0x0800);
    assert.deepEqual(p.bytes, { link: 18, ip: 20, transport: 8, payload: 2, trailer: 0 });
  });

  it('follows an 802.1ad outer and an 802.1Q inner tag to IPv6', () => {
    const frame = hex(
      'ffffffffffff 020000000001 88a8 00c8 8100 0064 86dd' +
        '60000000 000a 11 40' +
        '20010db8000000000000000000000001 20010db8000000000000000000000002' +
        UDP_HI,
    );
    const p = dissect(frame, LinkType.ETHERNET);
    assert.deepEqual(p.issues, []);
    assert.deepEqual(
      p.link?.vlanTags.map((t) => [t.tpid, t.id]),
      [
        [0x88a8, 200],
        [0x8100, 100],
      ],
    );
    assert.equal(p.ip?.source, '2001:db8::1');
    assert.deepEqual(p.bytes, { link: 22, ip: 40, transport: 8, payload: 2, trailer: 0 });
  });

  it('stops after too many tags', () => {
    const frame = hex('ffffffffffff 020000000001' + '8100 0001'.repeat(5) + '0800' + ipv4Header(30, 17) + UDP_HI);
    const p = dissect(frame, LinkType.ETHERNET);
    assert.deepEqual(codes(p), ['link:TOO_MANY_HEADERS']);
    assert.equal(p.link, null);
    assert.equal(bytesSum(p), frame.length);
  });
});

describe('IPv6', () => {
  it('walks hop-by-hop, routing, fragment and destination options headers to TCP', () => {
    const frame = hex(`
      ${ETH_IPV6}
      60000000 0038 00 40                       # payload 56, next: hop-by-hop
      00000000000000000000000000000001 00000000000000000000000000000002
      2b 00 0104 00000000                       # hop-by-hop (8), next: routing
      2c 00 00 00 00000000                      # routing (8), next: fragment
      3c 00 0000 12345678                       # fragment offset 0, M=0, next: destination options
      06 00 0104 00000000                       # destination options (8), next: TCP
      3039 0050 00000001 00000000 5018 ffff 0000 0000
      deadbeef
    `);
    const p = dissect(frame, LinkType.ETHERNET);
    assert.deepEqual(p.issues, []);
    assert.ok(p.ip?.version === 6);
    assert.deepEqual(
      p.ip.extensionHeaders.map((h) => [h.type, h.length]),
      [
        [0, 8],
        [43, 8],
        [44, 8],
        [60, 8],
      ],
    );
    assert.equal(p.ip.protocol, 6);
    assert.equal(p.ip.source, '::1');
    assert.equal(p.ip.destination, '::2');
    assert.deepEqual(p.ip.fragment, { offset: 0, moreFragments: false, identification: 0x12345678 });
    assert.deepEqual(p.bytes, { link: 14, ip: 72, transport: 20, payload: 4, trailer: 0 });
    assert.deepEqual(p.payload, hex('deadbeef'));
  });

  it('does not read a transport header in a later IPv6 fragment', () => {
    const frame = hex(`
      ${ETH_IPV6}
      60000000 0010 2c 40
      00000000000000000000000000000001 00000000000000000000000000000002
      11 00 05a9 00000001                       # fragment offset 181*8, M=1, next: UDP
      0102030405060708
    `);
    const p = dissect(frame, LinkType.ETHERNET);
    assert.deepEqual(p.issues, []);
    assert.deepEqual(p.ip?.fragment, { offset: 1448, moreFragments: true, identification: 1 });
    assert.equal(p.ip?.protocol, 17);
    assert.equal(p.transport, null);
    assert.deepEqual(p.bytes, { link: 14, ip: 48, transport: 0, payload: 8, trailer: 0 });
  });

  it('reports an extension header that runs past the payload', () => {
    const frame = hex(`
      ${ETH_IPV6}
      60000000 0008 00 40
      00000000000000000000000000000001 00000000000000000000000000000002
      11 01 0000 00000000                       # hop-by-hop claiming 16 bytes in an 8-byte payload
    `);
    const p = dissect(frame, LinkType.ETHERNET);
    assert.deepEqual(codes(p), ['ipv6:BAD_HEADER_LENGTH']);
    assert.equal(p.transport, null);
    assert.equal(bytesSum(p), frame.length);
  });

  it('formats addresses as RFC 5952 text', () => {
    const cases: [string, string][] = [
      ['00000000000000000000000000000001', '::1'],
      ['00000000000000000000000000000000', '::'],
      ['20010db8000000000000000000000001', '2001:db8::1'],
      ['20010db8000000000001000000000001', '2001:db8::1:0:0:1'],
      ['00010000000000020000000000000003', '1:0:0:2::3'],
      ['20010db8000000010001000100010001', '2001:db8:0:1:1:1:1:1'],
      ['fe800000000000000001000200030004', 'fe80::1:2:3:4'],
      ['00000000000000000000ffffc0000201', '::ffff:192.0.2.1'],
    ];
    for (const [bytes, text] of cases) assert.equal(formatIpv6(hex(bytes), 0), text, bytes);
  });
});

describe('link types', () => {
  const ipv4Udp = ipv4Header(30, 17) + UDP_HI;
  const ipv6Udp =
    '60000000 000a 11 40 00000000000000000000000000000001 00000000000000000000000000000001' + UDP_HI;

  const cases: { name: string; linkType: number; frame: string; link: number; kind: string; version: 4 | 6 }[] = [
    {
      name: 'Linux cooked v1',
      linkType: LinkType.LINUX_SLL,
      frame: '0000 0304 0006 000000000000 0000 0800' + ipv4Udp,
      link: 16,
      kind: 'sll',
      version: 4,
    },
    {
      name: 'Linux cooked v1 with a VLAN tag',
      linkType: LinkType.LINUX_SLL,
      frame: '0004 0001 0006 020000000001 0000 8100 0064 86dd' + ipv6Udp,
      link: 20,
      kind: 'sll',
      version: 6,
    },
    {
      name: 'Linux cooked v2',
      linkType: LinkType.LINUX_SLL2,
      frame: '86dd 0000 00000001 0304 00 06 0000000000000000' + ipv6Udp,
      link: 20,
      kind: 'sll2',
      version: 6,
    },
    {
      name: 'BSD loopback, little-endian AF_INET',
      linkType: LinkType.NULL,
      frame: '02000000' + ipv4Udp,
      link: 4,
      kind: 'null',
      version: 4,
    },
    {
      name: 'BSD loopback, big-endian AF_INET6 (macOS value 30)',
      linkType: LinkType.NULL,
      frame: '0000001e' + ipv6Udp,
      link: 4,
      kind: 'null',
      version: 6,
    },
    {
      name: 'BSD loopback, little-endian AF_INET6 (FreeBSD value 28)',
      linkType: LinkType.NULL,
      frame: '1c000000' + ipv6Udp,
      link: 4,
      kind: 'null',
      version: 6,
    },
    { name: 'OpenBSD loopback', linkType: LinkType.LOOP, frame: '00000002' + ipv4Udp, link: 4, kind: 'loop', version: 4 },
    { name: 'raw IP (IPv4)', linkType: LinkType.RAW, frame: ipv4Udp, link: 0, kind: 'raw', version: 4 },
    { name: 'raw IP (IPv6)', linkType: LinkType.RAW, frame: ipv6Udp, link: 0, kind: 'raw', version: 6 },
    { name: 'LINKTYPE_IPV4', linkType: LinkType.IPV4, frame: ipv4Udp, link: 0, kind: 'raw', version: 4 },
    { name: 'LINKTYPE_IPV6', linkType: LinkType.IPV6, frame: ipv6Udp, link: 0, kind: 'raw', version: 6 },
  ];
  for (const c of cases) {
    it(`decodes ${c.name}`, () => {
      const p = dissect(hex(c.frame), c.linkType);
      assert.deepEqual(p.issues, []);
      assert.equal(p.link?.kind, c.kind);
      assert.equal(p.ip?.version, c.version);
      assert.deepEqual(p.bytes, { link: c.link, ip: c.version === 4 ? 20 : 40, transport: 8, payload: 2, trailer: 0 });
      assert.ok(p.transport?.protocol === 'udp' && p.transport.destinationPort === 53);
    });
  }

  it('reports the cooked-capture fields', () => {
    const v1 = dissect(hex('0004 0304 0006 020000000001 0000 0800' + ipv4Udp), LinkType.LINUX_SLL);
    assert.equal(v1.link?.packetType, 4);
    assert.equal(v1.link?.hardwareType, 0x0304);
    assert.equal(v1.link?.source, '02:00:00:00:00:01');
    const v2 = dissect(hex('0800 0000 00000007 0001 03 06 020000000002 0000' + ipv4Udp), LinkType.LINUX_SLL2);
    assert.equal(v2.link?.interfaceIndex, 7);
    assert.equal(v2.link?.packetType, 3);
    assert.equal(v2.link?.source, '02:00:00:00:00:02');
  });

  it('reports an unsupported link type and counts the whole frame as payload', () => {
    const p = dissect(hex('0102030405'), 9999);
    assert.deepEqual(codes(p), ['link:UNSUPPORTED_LINK_TYPE']);
    assert.deepEqual(p.bytes, { link: 0, ip: 0, transport: 0, payload: 5, trailer: 0 });
  });

  it('passes non-IP Ethernet frames through as link payload', () => {
    const arp = hex('ffffffffffff 020000000001 0806' + '0001 0800 06 04 0001' + '00'.repeat(20));
    const p = dissect(arp, LinkType.ETHERNET);
    assert.deepEqual(p.issues, []);
    assert.equal(p.link?.etherType, 0x0806);
    assert.equal(p.ip, null);
    assert.deepEqual(p.bytes, { link: 14, ip: 0, transport: 0, payload: 28, trailer: 0 });
  });
});

describe('snap-length truncation', () => {
  const syn = hex(ETH_IPV4 + ipv4Header(60, 6) + TCP_SYN_WITH_OPTIONS);

  it('reads the options that were captured and still counts the whole header', () => {
    const p = dissect(syn.subarray(0, 60), LinkType.ETHERNET, syn.length);
    assert.equal(p.truncated, true);
    assert.equal(p.capturedLength, 60);
    assert.equal(p.originalLength, 74);
    assert.deepEqual(codes(p), ['tcp:TRUNCATED']);
    assert.ok(p.transport?.protocol === 'tcp');
    assert.equal(p.transport.optionsTruncated, true);
    assert.equal(p.transport.mss, 1460);
    assert.equal(p.transport.timestamp, undefined);
    assert.deepEqual(p.bytes, { link: 14, ip: 20, transport: 40, payload: 0, trailer: 0 });
  });

  it('gives no TCP header when its fixed part was not captured', () => {
    const p = dissect(syn.subarray(0, 40), LinkType.ETHERNET, syn.length);
    assert.deepEqual(codes(p), ['tcp:TRUNCATED']);
    assert.equal(p.transport, null);
    assert.deepEqual(p.bytes, { link: 14, ip: 20, transport: 0, payload: 40, trailer: 0 });
  });

  it('counts a cut payload at its wire length but never reads past the capture', () => {
    const frame = hex(ETH_IPV4 + ipv4Header(1028, 17) + '14e9 0035 03f0 0000' + 'ab'.repeat(1000));
    const p = dissect(frame.subarray(0, 50), LinkType.ETHERNET, frame.length);
    assert.deepEqual(p.issues, []);
    assert.equal(p.payloadLength, 1000);
    assert.equal(p.payload.length, 8);
    assert.deepEqual(p.bytes, { link: 14, ip: 20, transport: 8, payload: 1000, trailer: 0 });
  });

  it('reports a frame cut inside the link or IP header', () => {
    assert.deepEqual(codes(dissect(syn.subarray(0, 10), LinkType.ETHERNET, 74)), ['link:TRUNCATED']);
    assert.deepEqual(codes(dissect(syn.subarray(0, 20), LinkType.ETHERNET, 74)), ['ipv4:TRUNCATED']);
    assert.deepEqual(codes(dissect(new Uint8Array(0), LinkType.RAW, 74)), ['link:TRUNCATED']);
  });
});

describe('malformed headers', () => {
  const cases: { name: string; frame: string; issues: string[] }[] = [
    {
      name: 'IPv4 header length below 20',
      frame: ETH_IPV4 + '44 00 001e 0000 0000 40 11 0000 0a000001 0a000002' + UDP_HI,
      issues: ['ipv4:BAD_HEADER_LENGTH'],
    },
    {
      name: 'IPv4 total length beyond the frame',
      frame: ETH_IPV4 + ipv4Header(200, 17) + UDP_HI,
      issues: ['ipv4:BAD_LENGTH'],
    },
    {
      name: 'IPv4 total length below its header',
      frame: ETH_IPV4 + ipv4Header(10, 17) + UDP_HI,
      issues: ['ipv4:BAD_LENGTH'],
    },
    {
      name: 'IPv6 announced, version 4 found',
      frame: ETH_IPV6 + ipv4Header(30, 17) + UDP_HI + '00'.repeat(20),
      issues: ['ipv6:BAD_VERSION'],
    },
    {
      name: 'TCP data offset below 5',
      frame: ETH_IPV4 + ipv4Header(40, 6) + '3039 0050 00000001 00000000 4010 ffff 0000 0000',
      issues: ['tcp:BAD_HEADER_LENGTH'],
    },
    {
      name: 'TCP data offset beyond the segment',
      frame: ETH_IPV4 + ipv4Header(40, 6) + '3039 0050 00000001 00000000 f010 ffff 0000 0000',
      issues: ['tcp:BAD_HEADER_LENGTH'],
    },
    {
      name: 'TCP option with length 0',
      frame: ETH_IPV4 + ipv4Header(44, 6) + '3039 0050 00000001 00000000 6010 ffff 0000 0000 02000000',
      issues: ['tcp:BAD_OPTION'],
    },
    {
      name: 'UDP length field larger than the datagram',
      frame: ETH_IPV4 + ipv4Header(30, 17) + '14e9 0035 0040 0000 6869',
      issues: ['udp:BAD_LENGTH'],
    },
    {
      name: 'IP segment too short for TCP',
      frame: ETH_IPV4 + ipv4Header(30, 6) + '3039 0050 00000001 0000',
      issues: ['tcp:BAD_LENGTH'],
    },
  ];
  for (const c of cases) {
    it(`reports ${c.name}`, () => {
      const frame = hex(c.frame);
      const p = dissect(frame, LinkType.ETHERNET);
      assert.deepEqual(codes(p), c.issues);
      assert.equal(bytesSum(p), frame.length, 'every byte is still accounted for');
      for (const issue of p.issues) assert.ok(issue.offset >= 0 && issue.offset <= frame.length);
    });
  }

  it('keeps a well-formed TCP header when only its options are malformed', () => {
    const frame = hex(ETH_IPV4 + ipv4Header(44, 6) + '3039 0050 00000001 00000000 6010 ffff 0000 0000 02000000');
    const p = dissect(frame, LinkType.ETHERNET);
    assert.equal(p.transport?.protocol, 'tcp');
    assert.equal(p.bytes.transport, 24);
  });
});
