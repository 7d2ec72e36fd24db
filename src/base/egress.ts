// The one egress policy every URL a tenant can set goes through (HTTP checks, RabbitMQ management
// and AMQP, webhook and Slack receivers). A destination is allowed when its host is a Service of the
// object's own namespace, matches the install's --egress-allow list (names, `*.` wildcards, CIDRs),
// or resolves into an address class the install explicitly allowed. Loopback, link-local, cloud
// metadata and the operator's own addresses are refused whatever the list says, unless their own
// flag lifts them.
//
// The guarantee is made where the socket is opened: the guard's `lookup` is given to the agent (or
// to net.connect), so the addresses checked are the ones connected to, after DNS: a name that
// resolves differently between a check and the connection (DNS rebinding) cannot slip through.
// Node skips `lookup` for literal addresses, so the agents check those before connecting.
import { lookup as dnsLookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import type { Duplex } from 'node:stream';
import ipaddr from 'ipaddr.js';

type Address = ipaddr.IPv4 | ipaddr.IPv6;
export interface ResolvedAddress {
  address: string;
  family: number;
}
/** Name resolution (DNS): injected so tests can map a Service name to a local server. */
export type Resolver = (host: string) => Promise<ResolvedAddress[]>;

/** The address classes refused unless the install lifts them, each with its own flag. */
export type GuardedClass = 'metadata' | 'loopback' | 'link-local' | 'self';

export const EGRESS_FLAGS: Record<GuardedClass, string> = {
  loopback: 'egress-allow-loopback',
  'link-local': 'egress-allow-link-local',
  metadata: 'egress-allow-metadata',
  self: 'egress-allow-self',
};

const CLASS_WORDS: Record<GuardedClass, string> = {
  loopback: 'a loopback address',
  'link-local': 'a link-local address',
  metadata: 'a cloud metadata address',
  self: "the operator's own address",
};

/**
 * Instance metadata and host-agent endpoints of the clouds Kubernetes runs on: AWS IMDS (v4, v6),
 * ECS task metadata and the EKS Pod Identity agent, GCP, Azure (IMDS and WireServer), Alibaba,
 * Oracle (legacy), OpenStack and DigitalOcean (the common 169.254.169.254).
 */
const METADATA_CIDRS = [
  '169.254.169.254/32',
  '169.254.170.2/32',
  '169.254.170.23/32',
  '168.63.129.16/32',
  '100.100.100.200/32',
  '192.0.0.192/32',
  'fd00:ec2::254/128',
  'fd00:ec2::23/128',
].map((cidr) => ipaddr.parseCIDR(cidr));
const METADATA_NAMES = new Set([
  'metadata',
  'metadata.google.internal',
  'metadata.goog',
  'instance-data',
  'instance-data.ec2.internal',
]);

/** What the install allows, from its flags (see docs/configuration.md, "Egress"). */
export interface EgressSettings {
  /** Host names, `*.domain` wildcards, addresses and CIDRs (--egress-allow). */
  allow: readonly string[];
  /** The guarded classes the install lifts (--egress-allow-loopback and the like). */
  lifted: readonly GuardedClass[];
  /** The operator's own addresses (POD_IP): refused unless `self` is lifted. */
  selfAddresses: readonly string[];
}

/** A destination the policy refuses: the message names the host, the reason and the flag. */
export class EgressRefused extends Error {
  readonly code = 'EGRESS_REFUSED';
  readonly host: string;

  constructor(host: string, reason: string) {
    super(`egress to ${host} refused: ${reason}`);
    this.name = 'EgressRefused';
    this.host = host;
  }
}

/** The EgressRefused behind an error (axios and net wrap it), if any. */
export function egressRefusal(error: unknown): EgressRefused | undefined {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++)
    if (e instanceof EgressRefused) return e;
  return undefined;
}

/** A literal address, `[v6]` brackets allowed; undefined for a name. */
function literalAddress(host: string): Address | undefined {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  return isIP(bare) ? asConnected(ipaddr.parse(bare)) : undefined;
}

/**
 * The address a packet really goes to: an IPv6 address that embeds an IPv4 one (mapped
 * ::ffff:a.b.c.d, SIIT ::ffff:0:a.b.c.d, NAT64 64:ff9b::/96) is classified as that IPv4 address.
 */
function asConnected(address: Address): Address {
  if (address.kind() === 'ipv4') return address;
  const range = address.range();
  if (range !== 'ipv4Mapped' && range !== 'rfc6145' && range !== 'rfc6052') return address;
  const bytes = address.toByteArray().slice(-4);
  return ipaddr.fromByteArray(bytes);
}

const inCidr = (address: Address, [network, bits]: [Address, number]) =>
  address.kind() === network.kind() && address.match(network, bits);

/** Lower case, without the trailing dot of a fully qualified name. */
const normalHost = (host: string) => host.toLowerCase().replace(/\.$/, '');

/** The namespace of a cluster Service name (`<svc>.<ns>.svc[.cluster.local]`, pods under it too). */
function serviceNamespace(host: string): string | undefined {
  const labels = host.replace(/\.cluster\.local$/, '').split('.');
  return labels.length >= 3 && labels.at(-1) === 'svc' ? labels.at(-2) : undefined;
}

/** The class of an address among those only their own flag lifts (the pod's own address aside). */
function fixedClass(address: Address): Exclude<GuardedClass, 'self'> | undefined {
  if (METADATA_CIDRS.some((cidr) => inCidr(address, cidr))) return 'metadata';
  const range = address.range();
  if (range === 'loopback' || range === 'unspecified') return 'loopback';
  if (range === 'linkLocal') return 'link-local';
  return undefined;
}

/** An allow-list range that starts inside a guarded class would mislead: the list never lifts one. */
function notGuarded(raw: string, cidr: [Address, number]): [Address, number] {
  const cls = fixedClass(cidr[0]);
  if (cls)
    throw new Error(
      `"${raw}" is ${CLASS_WORDS[cls]}: --egress-allow never lifts that class; use --${EGRESS_FLAGS[cls]}`,
    );
  return cidr;
}

interface AllowList {
  names: Set<string>;
  suffixes: string[];
  cidrs: [Address, number][];
}

/** Parses --egress-allow entries; throws with the entry for one that is none of the forms. */
export function parseAllowList(entries: readonly string[]): AllowList {
  const list: AllowList = { names: new Set(), suffixes: [], cidrs: [] };
  for (const raw of entries) {
    const entry = normalHost(raw.trim());
    if (entry === '') continue;
    if (entry.includes('/')) {
      let cidr: [Address, number];
      try {
        const [network, bits] = ipaddr.parseCIDR(entry);
        const connected = asConnected(network);
        // An IPv4 range written as IPv6 (::ffff:10.0.0.0/104) is matched as the IPv4 range it is.
        cidr = [connected, connected.kind() === network.kind() ? bits : Math.max(0, bits - 96)];
      } catch {
        throw new Error(`"${raw}" is not a CIDR (such as 10.0.0.0/8 or fd00::/8)`);
      }
      list.cidrs.push(notGuarded(raw, cidr));
      continue;
    }
    const address = literalAddress(entry);
    if (address) {
      list.cidrs.push(notGuarded(raw, [address, address.kind() === 'ipv4' ? 32 : 128]));
      continue;
    }
    const name = entry.startsWith('*.') ? entry.slice(2) : entry;
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(name))
      throw new Error(`"${raw}" is not a host name, a *.domain wildcard, an address or a CIDR`);
    if (entry.startsWith('*.')) list.suffixes.push(`.${name}`);
    else list.names.add(name);
  }
  return list;
}

export class EgressPolicy {
  private readonly allow: AllowList;
  private readonly lifted: ReadonlySet<GuardedClass>;
  private readonly self: Address[];
  private readonly resolver: Resolver;
  private readonly guards = new Map<string, EgressGuard>();

  constructor(settings: EgressSettings, resolver: Resolver = systemResolver) {
    this.allow = parseAllowList(settings.allow);
    this.lifted = new Set(settings.lifted);
    this.self = settings.selfAddresses.flatMap((a) => literalAddress(a.trim()) ?? []);
    this.resolver = resolver;
  }

  /** The guard for requests made for objects of one namespace (one per namespace, kept). */
  forNamespace(namespace: string): EgressGuard {
    let guard = this.guards.get(namespace);
    if (!guard) this.guards.set(namespace, (guard = new EgressGuard(this, namespace)));
    return guard;
  }

  /** The guarded class of an address, first match in order of severity. */
  private guardedClass(address: Address): GuardedClass | undefined {
    const fixed = fixedClass(address);
    if (fixed) return fixed;
    if (this.self.some((own) => own.kind() === address.kind() && own.toString() === address.toString()))
      return 'self';
    return undefined;
  }

  private refusedClass(what: string, cls: GuardedClass): string {
    const word = cls === 'link-local' ? 'link-local' : cls;
    return `${what} is ${CLASS_WORDS[cls]}; the install does not allow ${word} egress (--${EGRESS_FLAGS[cls]})`;
  }

  /**
   * What the host's name alone decides: `allowed` (an own-namespace Service or an allow-list name),
   * a refusal, or `open` (the addresses it resolves to decide).
   */
  nameVerdict(host: string, namespace: string): 'allowed' | 'open' | { refused: string } {
    const name = normalHost(host);
    if (literalAddress(name)) return 'open';
    if (METADATA_NAMES.has(name) && !this.lifted.has('metadata'))
      return { refused: this.refusedClass(name, 'metadata') };
    if ((name === 'localhost' || name.endsWith('.localhost')) && !this.lifted.has('loopback'))
      return { refused: this.refusedClass(name, 'loopback') };
    if (this.allow.names.has(name) || this.allow.suffixes.some((s) => name.endsWith(s))) return 'allowed';
    const serviceIn = serviceNamespace(name);
    if (serviceIn === namespace) return 'allowed';
    if (serviceIn !== undefined)
      return {
        refused: `a Service of namespace ${serviceIn}; only Services of the object's own namespace (${namespace}) are allowed unless --egress-allow lists the host`,
      };
    return 'open';
  }

  /** Why an address may not be connected to, or undefined when it may. */
  addressProblem(address: Address, nameAllowed: boolean): string | undefined {
    const shown = address.toString();
    const cls = this.guardedClass(address);
    if (cls) return this.lifted.has(cls) ? undefined : this.refusedClass(shown, cls);
    if (nameAllowed || this.allow.cidrs.some((cidr) => inCidr(address, cidr))) return undefined;
    return `${shown} is not an allowed destination (allowed: Services of the object's own namespace and the hosts and CIDRs of --egress-allow)`;
  }

  /**
   * A check without DNS, for validation and before connecting: the scheme, a literal address, a
   * metadata or loopback name, another namespace's Service. A host it passes may still be refused
   * at connect time by the addresses it resolves to.
   */
  urlProblem(url: string, namespace: string): string | undefined {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return 'not a URL';
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return 'only http and https URLs';
    return this.hostProblem(parsed.hostname, namespace);
  }

  /** The same check for a bare host (an AMQP host). */
  hostProblem(host: string, namespace: string): string | undefined {
    const verdict = this.nameVerdict(host, namespace);
    if (typeof verdict === 'object') return verdict.refused;
    const literal = literalAddress(host);
    return literal ? this.addressProblem(literal, false) : undefined;
  }

  /** Resolves a host and checks every address it has; throws EgressRefused when one is refused. */
  async resolve(host: string, namespace: string, family = 0): Promise<ResolvedAddress[]> {
    const verdict = this.nameVerdict(host, namespace);
    if (typeof verdict === 'object') throw new EgressRefused(host, verdict.refused);
    const literal = literalAddress(host);
    const found = literal
      ? [{ address: literal.toString(), family: literal.kind() === 'ipv4' ? 4 : 6 }]
      : await this.resolver(host);
    const addresses = found.filter((a) => family === 0 || a.family === family);
    if (addresses.length === 0)
      throw Object.assign(new Error(`${host} has no address`), { code: 'ENOTFOUND', hostname: host });
    for (const { address } of addresses) {
      const problem = this.addressProblem(asConnected(ipaddr.parse(address)), verdict === 'allowed');
      if (problem) throw new EgressRefused(host, problem);
    }
    return addresses;
  }
}

const systemResolver: Resolver = (host) => dnsLookup(host, { all: true, order: 'verbatim' });

type ConnectionCallback = (err: Error | null, stream: Duplex) => void;

/** The policy applied for one namespace: a lookup for sockets, and agents for HTTP clients. */
export class EgressGuard {
  readonly namespace: string;
  readonly httpAgent: http.Agent;
  readonly httpsAgent: https.Agent;
  private readonly policy: EgressPolicy;

  constructor(policy: EgressPolicy, namespace: string) {
    this.policy = policy;
    this.namespace = namespace;
    this.httpAgent = this.guarded(new http.Agent({ lookup: this.lookup }));
    this.httpsAgent = this.guarded(new https.Agent({ lookup: this.lookup }));
  }

  /** A `lookup` for net/tls.connect and agents: resolves, checks every address, then answers. */
  readonly lookup: LookupFunction = (hostname, options, callback) => {
    const family =
      options.family === 4 || options.family === 'IPv4'
        ? 4
        : options.family === 6 || options.family === 'IPv6'
          ? 6
          : 0;
    this.policy.resolve(hostname, this.namespace, family).then(
      (addresses) => {
        const [first] = addresses;
        if (options.all) callback(null, addresses);
        else if (first) callback(null, first.address, first.family);
      },
      (error: unknown) => callback(error as NodeJS.ErrnoException, ''),
    );
  };

  /** Throws EgressRefused for a host the policy refuses without DNS (a literal address, too). */
  checkHost(host: string): void {
    const problem = this.policy.hostProblem(host, this.namespace);
    if (problem) throw new EgressRefused(host, problem);
  }

  /**
   * An agent that checks a literal address before connecting, as Node calls no `lookup` for one;
   * a name is checked by the agent's lookup.
   */
  private guarded<A extends http.Agent>(agent: A): A {
    const create = agent.createConnection.bind(agent);
    agent.createConnection = (options, callback?: ConnectionCallback) => {
      const host = options.hostname ?? options.host ?? '';
      const literal = literalAddress(host);
      if (literal) {
        const problem = this.policy.addressProblem(literal, false);
        if (problem) {
          const refused = new EgressRefused(host, problem);
          if (!callback) throw refused;
          // Asynchronously, as the agent expects a failed connection to be reported.
          process.nextTick(() => callback(refused, undefined as never));
          return undefined;
        }
      }
      return create(options, callback);
    };
    return agent;
  }
}
