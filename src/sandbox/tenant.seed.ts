import { generateContact } from './contacts.seed.js';
import { SeededRandom } from './random.util.js';
import {
  type AppRegistration,
  type GroupRecord,
  type Props,
  Tenant,
  type UserRecord,
} from './tenant.store.js';

/**
 * A realistic tenant, the same for the same seed: people from several locales (names
 * with diacritics, Japanese and Chinese display names with romanised UPNs), members and
 * guests, a few accounts without mail, some disabled, phone numbers and job data filled
 * unevenly, some businessPhones holding extension-like values; Microsoft 365, security,
 * mail-enabled security and distribution groups, nested security groups.
 */

export interface Locale {
  tag: string;
  country: string;
  usage: string;
  cities: string[];
  weight: number;
  /** [romanised, native] pairs; native is used for the display name when present. */
  first: Array<[string, string?]>;
  last: Array<[string, string?]>;
  /** Japanese: family name first; Chinese: family name first without a space. */
  order?: 'eastern' | 'eastern-nospace';
  phone: (r: SeededRandom) => string;
  mobile: (r: SeededRandom) => string;
}

const n = (names: string): Array<[string]> => names.split(',').map((s) => [s.trim()]);

export const LOCALES: Locale[] = [
  {
    tag: 'en-US',
    country: 'United States',
    usage: 'US',
    cities: ['Seattle', 'New York', 'Austin', 'Chicago', 'Denver'],
    weight: 28,
    first: n(
      'James,Mary,Robert,Patricia,Michael,Jennifer,William,Linda,David,Elizabeth,Chris,Jessica,Daniel,Sarah,Matthew,Karen,Anthony,Nancy,Mark,Lisa,Zoë,Renée',
    ),
    last: n(
      "Smith,Johnson,Williams,Brown,Jones,Miller,Davis,Wilson,Anderson,Taylor,Thomas,Moore,Martin,Jackson,Thompson,White,O'Brien,Lee",
    ),
    phone: (r) => `+1 ${r.pick(['206', '212', '512', '312', '303'])} 555 0${r.digits(3)}`,
    mobile: (r) => `+1 ${r.pick(['425', '646', '737', '773', '720'])} ${r.digits(3)} ${r.digits(4)}`,
  },
  {
    tag: 'en-GB',
    country: 'United Kingdom',
    usage: 'GB',
    cities: ['London', 'Manchester', 'Edinburgh', 'Bristol'],
    weight: 9,
    first: n('Oliver,Amelia,Harry,Isla,George,Ava,Jack,Emily,Charlie,Sophie,Siân,Eilidh'),
    last: n('Clarke,Wright,Walker,Hughes,Evans,Roberts,Hall,Green,Wood,Harris,MacDonald,Ffion-Jones'),
    phone: (r) => `+44 20 7946 0${r.digits(3)}`,
    mobile: (r) => `+44 7700 900${r.digits(3)}`,
  },
  {
    tag: 'de-DE',
    country: 'Germany',
    usage: 'DE',
    cities: ['Berlin', 'München', 'Hamburg', 'Köln', 'Düsseldorf'],
    weight: 12,
    first: n('Lukas,Lena,Jürgen,Sören,Jörg,Katharina,Maximilian,Anna,Björn,Greta,Günther,Lea,Jonas,Mia'),
    last: n(
      'Müller,Schmidt,Schneider,Fischer,Weiß,Becker,Köhler,Groß,Wagner,Hoffmann,Schäfer,Krüger,Zimmermann',
    ),
    phone: (r) => `+49 ${r.pick(['30', '89', '40', '221'])} ${r.digits(7)}`,
    mobile: (r) => `+49 ${r.pick(['151', '160', '171', '176'])} ${r.digits(8)}`,
  },
  {
    tag: 'fr-FR',
    country: 'France',
    usage: 'FR',
    cities: ['Paris', 'Lyon', 'Marseille', 'Toulouse'],
    weight: 8,
    first: n('Léa,Chloé,Hélène,François,Zoé,Benoît,Anaïs,Jérôme,Élodie,Noël,Camille,Théo'),
    last: n('Dubois,Lefèvre,Moreau,Girard,Bérenger,Rousseau,Fontaine,Lambert,Mercier,Faure'),
    phone: (r) => `+33 1 ${r.digits(2)} ${r.digits(2)} ${r.digits(2)} ${r.digits(2)}`,
    mobile: (r) => `+33 6 ${r.digits(2)} ${r.digits(2)} ${r.digits(2)} ${r.digits(2)}`,
  },
  {
    tag: 'es-ES',
    country: 'Spain',
    usage: 'ES',
    cities: ['Madrid', 'Barcelona', 'Sevilla', 'Valencia'],
    weight: 6,
    first: n('José,María,Íñigo,Sofía,Álvaro,Lucía,Nuño,Martín,Paula,Jesús'),
    last: n('García,Martínez,Fernández,López,Núñez,Pérez,Sánchez,Gómez,Ruiz,Díaz'),
    phone: (r) => `+34 91 ${r.digits(3)} ${r.digits(2)} ${r.digits(2)}`,
    mobile: (r) => `+34 6${r.digits(2)} ${r.digits(3)} ${r.digits(3)}`,
  },
  {
    tag: 'pt-BR',
    country: 'Brazil',
    usage: 'BR',
    cities: ['São Paulo', 'Rio de Janeiro', 'Belo Horizonte'],
    weight: 5,
    first: n('João,Ana,Luíza,Thiago,Camila,Gabriel,Júlia,Vinícius'),
    last: n('Silva,Santos,Oliveira,Souza,Conceição,Araújo,Ribeiro,Gonçalves'),
    phone: (r) => `+55 11 ${r.digits(4)}-${r.digits(4)}`,
    mobile: (r) => `+55 11 9${r.digits(4)}-${r.digits(4)}`,
  },
  {
    tag: 'nl-NL',
    country: 'Netherlands',
    usage: 'NL',
    cities: ['Amsterdam', 'Rotterdam', 'Utrecht'],
    weight: 4,
    first: n('Sanne,Daan,Bram,Fleur,Sem,Noor,Thijs,Eva'),
    last: n('de Vries,van den Berg,Jansen,van Dijk,Bakker,Visser,de Jong,Smit'),
    phone: (r) => `+31 20 ${r.digits(3)} ${r.digits(4)}`,
    mobile: (r) => `+31 6 ${r.digits(8)}`,
  },
  {
    tag: 'pl-PL',
    country: 'Poland',
    usage: 'PL',
    cities: ['Warszawa', 'Kraków', 'Wrocław'],
    weight: 4,
    first: n('Łukasz,Małgorzata,Wojciech,Zofia,Piotr,Agnieszka,Paweł,Katarzyna'),
    last: n('Kowalski,Wiśniewski,Wójcik,Nowak,Kamińska,Lewandowski,Zieliński,Szymańska'),
    phone: (r) => `+48 22 ${r.digits(3)} ${r.digits(2)} ${r.digits(2)}`,
    mobile: (r) => `+48 ${r.digits(3)} ${r.digits(3)} ${r.digits(3)}`,
  },
  {
    tag: 'sv-SE',
    country: 'Sweden',
    usage: 'SE',
    cities: ['Stockholm', 'Göteborg', 'Malmö'],
    weight: 3,
    first: n('Åsa,Björn,Linnéa,Oskar,Maja,Elias,Ebba,Nils'),
    last: n('Andersson,Johansson,Lindström,Öberg,Karlsson,Nilsson,Ström,Åberg'),
    phone: (r) => `+46 8 ${r.digits(3)} ${r.digits(2)} ${r.digits(2)}`,
    mobile: (r) => `+46 70 ${r.digits(3)} ${r.digits(2)} ${r.digits(2)}`,
  },
  {
    tag: 'tr-TR',
    country: 'Turkey',
    usage: 'TR',
    cities: ['İstanbul', 'Ankara', 'İzmir'],
    weight: 3,
    first: n('Emre,Zeynep,Çağla,Ömer,Elif,Burak,Şule,Can'),
    last: n('Yılmaz,Kaya,Demir,Şahin,Çelik,Öztürk,Aydın,Arslan'),
    phone: (r) => `+90 212 ${r.digits(3)} ${r.digits(2)} ${r.digits(2)}`,
    mobile: (r) => `+90 5${r.digits(2)} ${r.digits(3)} ${r.digits(2)} ${r.digits(2)}`,
  },
  {
    tag: 'ja-JP',
    country: 'Japan',
    usage: 'JP',
    cities: ['東京', '大阪', '名古屋'],
    weight: 5,
    order: 'eastern',
    first: [
      ['Haruto', '陽翔'],
      ['Yui', '結衣'],
      ['Sota', '蒼太'],
      ['Aoi', '葵'],
      ['Ren', '蓮'],
      ['Hina', '陽菜'],
      ['Yuto', '悠斗'],
      ['Sakura', 'さくら'],
    ],
    last: [
      ['Sato', '佐藤'],
      ['Suzuki', '鈴木'],
      ['Takahashi', '高橋'],
      ['Tanaka', '田中'],
      ['Watanabe', '渡辺'],
      ['Ito', '伊藤'],
      ['Yamamoto', '山本'],
    ],
    phone: (r) => `+81 3 ${r.digits(4)} ${r.digits(4)}`,
    mobile: (r) => `+81 90 ${r.digits(4)} ${r.digits(4)}`,
  },
  {
    tag: 'zh-CN',
    country: 'China',
    usage: 'CN',
    cities: ['上海', '北京', '深圳'],
    weight: 4,
    order: 'eastern-nospace',
    first: [
      ['Wei', '伟'],
      ['Fang', '芳'],
      ['Jing', '静'],
      ['Lei', '磊'],
      ['Min', '敏'],
      ['Yang', '洋'],
      ['Xiuying', '秀英'],
    ],
    last: [
      ['Wang', '王'],
      ['Li', '李'],
      ['Zhang', '张'],
      ['Liu', '刘'],
      ['Chen', '陈'],
      ['Yang', '杨'],
    ],
    phone: (r) => `+86 21 ${r.digits(4)} ${r.digits(4)}`,
    mobile: (r) => `+86 139 ${r.digits(4)} ${r.digits(4)}`,
  },
  {
    tag: 'en-IN',
    country: 'India',
    usage: 'IN',
    cities: ['Bengaluru', 'Mumbai', 'Pune', 'Hyderabad'],
    weight: 6,
    first: n('Aarav,Priya,Rohan,Ananya,Vikram,Diya,Arjun,Kavya,Sanjay,Lakshmi'),
    last: n('Sharma,Patel,Iyer,Reddy,Gupta,Nair,Singh,Krishnan,Mehta'),
    phone: (r) => `+91 80 ${r.digits(4)} ${r.digits(4)}`,
    mobile: (r) => `+91 9${r.digits(4)} ${r.digits(5)}`,
  },
];

export const DEPARTMENTS: Record<string, string[]> = {
  Sales: [
    'Account Executive',
    'Sales Manager',
    'Inside Sales Representative',
    'Sales Director',
    'Key Account Manager',
  ],
  Marketing: ['Marketing Specialist', 'Content Strategist', 'Marketing Manager', 'Brand Manager'],
  Engineering: [
    'Software Engineer',
    'Senior Software Engineer',
    'Engineering Manager',
    'QA Engineer',
    'DevOps Engineer',
  ],
  Support: ['Support Engineer', 'Support Team Lead', 'Customer Support Agent'],
  Finance: ['Accountant', 'Financial Analyst', 'Controller', 'CFO'],
  'Human Resources': ['HR Business Partner', 'Recruiter', 'HR Manager'],
  Operations: ['Operations Manager', 'Logistics Coordinator', 'Facilities Manager'],
  IT: ['IT Administrator', 'Service Desk Analyst', 'Network Engineer', 'Security Analyst'],
  Legal: ['Legal Counsel', 'Paralegal', 'Compliance Officer'],
  'Customer Success': ['Customer Success Manager', 'Onboarding Specialist'],
  Research: ['Research Scientist', 'Data Scientist', 'Research Lead'],
  Procurement: ['Buyer', 'Procurement Manager'],
};
const DEPARTMENT_NAMES = Object.keys(DEPARTMENTS);

export const ORGS = [
  'Contoso',
  'Fabrikam',
  'Northwind',
  'Adatum',
  'Tailspin',
  'Woodgrove',
  'Litware',
  'Proseware',
];
const GUEST_DOMAINS = [
  'fabrikam.example',
  'adatum.example',
  'partner.example.org',
  'mail.example.net',
  'tailspintoys.example',
];
const PROJECT_WORDS = [
  'Aurora',
  'Phoenix',
  'Falcon',
  'Nimbus',
  'Orion',
  'Atlas',
  'Zephyr',
  'Helios',
  'Polaris',
  'Kestrel',
  'Comet',
  'Meridian',
  'Vega',
  'Lynx',
  'Sequoia',
  'Cobalt',
];
const TEAM_KINDS = ['Project', 'Team', 'Committee', 'Guild', 'Working Group', 'Squad'];

const SPECIAL_MAP: Record<string, string> = {
  ß: 'ss',
  ł: 'l',
  Ł: 'L',
  ø: 'o',
  Ø: 'O',
  æ: 'ae',
  Æ: 'AE',
  ı: 'i',
  đ: 'd',
  œ: 'oe',
};

/** ASCII form of a name for an email local part ("Jürgen Weiß" → "jurgen.weiss"). */
export function asciiName(s: string): string {
  return s
    .replace(/[ßłŁøØæÆıđœ]/g, (c) => SPECIAL_MAP[c] ?? c)
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^A-Za-z0-9]/g, '')
    .toLowerCase();
}

function isoDay(base: number, r: SeededRandom, spanDays: number): string {
  const t = base + r.int(0, spanDays) * 86_400_000 + r.int(0, 86_399) * 1000;
  return new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export interface SeededTenant {
  tenant: Tenant;
  app: AppRegistration;
  clientSecret: string;
  adminUpn: string;
}

export const SANDBOX_PASSWORD = 'Sandbox!2024';

/** Application permissions the seeded app registration asks for (the gateway's README table). */
export const GATEWAY_APP_ROLES: readonly string[] = ['User.Read.All', 'Group.Read.All', 'Presence.Read.All'];
/** Delegated permissions (and OpenID Connect scopes) the seeded app registration asks for. */
export const GATEWAY_SCOPES: readonly string[] = ['openid', 'profile', 'offline_access', 'User.Read'];

/** What a seeded directory holds; `seed` makes it the same every time. */
export interface TenantSeedOptions {
  seed: number;
  users: number;
  groups?: number;
  /** Contacts in every user's default Contacts folder (generated on demand, see contacts.seed.ts); default 0. */
  contactsPerUser?: number;
  /** Shared mailboxes to add (users with accountEnabled false, as Exchange makes them); default 0. */
  sharedMailboxes?: number;
  /** Contacts in each shared mailbox's default Contacts folder; default 0. */
  contactsPerMailbox?: number;
  /** Every seeded user's default Contacts folder is shared with the Global Administrator; default false. */
  shareContactsWithAdmin?: boolean;
}

const SHARED_MAILBOX_NAMES = [
  'Sales',
  'Support',
  'Reception',
  'Accounts',
  'Helpdesk',
  'Marketing',
  'Info',
  'Operations',
];

export function seedTenant(options: TenantSeedOptions): SeededTenant {
  const r = new SeededRandom(options.seed);
  const org = ORGS[Math.abs(options.seed) % ORGS.length] as string;
  const slug = `${org.toLowerCase()}${Math.abs(options.seed)}`;
  const tenantId = r.uuid();
  const tenant = new Tenant(
    tenantId,
    `${org} (sandbox ${options.seed})`,
    `${slug}.onmicrosoft.com`,
    `${slug}.example.com`,
  );
  const domain = tenant.defaultDomain;
  const created0 = Date.UTC(2020, 0, 6);

  // ---- the app registration the gateway uses, as its README tells an admin to register it:
  // the API permissions it asks for (application and delegated), and nothing consented yet.
  // As on Microsoft, a client-credentials token then has no `roles` until an admin grants
  // admin consent (`/adminconsent`, authorize with `.default` by an admin, or the admin API).
  const appId = r.uuid();
  const clientSecret = `${r.secret(3)}8Q~${r.secret(34)}`;
  const app: AppRegistration = {
    appId,
    objectId: r.uuid(),
    servicePrincipalId: r.uuid(),
    displayName: 'PBX Gateway',
    redirectUris: ['http://localhost', 'https://localhost', 'http://127.0.0.1'],
    secrets: [
      {
        keyId: r.uuid(),
        displayName: 'sandbox',
        hint: clientSecret.slice(0, 3),
        secretText: clientSecret,
        startDateTime: new Date(created0).toISOString(),
        endDateTime: '2099-12-31T00:00:00.000Z',
      },
    ],
    requiredAppRoles: [...GATEWAY_APP_ROLES],
    requiredScopes: [...GATEWAY_SCOPES],
    grantedAppRoles: new Set(),
    adminConsentedScopes: new Set(),
    userConsents: new Map(),
  };
  tenant.apps.set(appId, app);

  // ---- users
  const upnCount = new Map<string, number>();
  const uniqueLocal = (local: string): string => {
    const c = (upnCount.get(local) ?? 0) + 1;
    upnCount.set(local, c);
    return c === 1 ? local : `${local}${c}`;
  };
  const weights = LOCALES.map((l) => l.weight);
  const users: UserRecord[] = [];

  const admin = tenant.seedUser(
    r.uuid(),
    {
      accountEnabled: true,
      businessPhones: ['+1 206 555 0100'],
      city: 'Seattle',
      companyName: org,
      country: 'United States',
      createdDateTime: new Date(created0).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      department: 'IT',
      displayName: 'Sandbox Admin',
      givenName: 'Sandbox',
      jobTitle: 'IT Administrator',
      mail: `admin@${domain}`,
      mailNickname: 'admin',
      mobilePhone: '+1 425 555 0100',
      officeLocation: 'Seattle HQ',
      preferredLanguage: 'en-US',
      proxyAddresses: [`SMTP:admin@${domain}`],
      surname: 'Admin',
      usageLocation: 'US',
      userPrincipalName: `admin@${domain}`,
      userType: 'Member',
    },
    true,
  );
  uniqueLocal('admin');
  users.push(admin);

  const total = Math.max(1, options.users);
  for (let i = 1; i < total; i++) {
    const loc = r.weighted(LOCALES, weights);
    const [firstRoman, firstNative] = r.pick(loc.first);
    const [lastRoman, lastNative] = r.pick(loc.last);
    const given = firstNative ?? firstRoman;
    const sur = lastNative ?? lastRoman;
    const displayName =
      loc.order === 'eastern'
        ? `${sur} ${given}`
        : loc.order === 'eastern-nospace'
          ? `${sur}${given}`
          : `${given} ${sur}`;
    const id = r.uuid();
    const created = isoDay(created0, r, 5 * 365);
    const roll = r.next();
    const p: Props = {};

    if (roll < 0.08) {
      // Guest (B2B invitation): UPN in the #EXT# form, mail is the external address.
      const gdomain = r.pick(GUEST_DOMAINS);
      const local = `${asciiName(firstRoman)}.${asciiName(lastRoman)}`;
      const ext = uniqueLocal(`${local}_${gdomain.replace(/\./g, '_')}`);
      p.accountEnabled = !r.chance(0.03);
      p.businessPhones = r.chance(0.15) ? [loc.phone(r)] : [];
      p.createdDateTime = created;
      p.creationType = 'Invitation';
      p.displayName = r.chance(0.2) ? `${displayName} (${gdomain.split('.')[0]})` : displayName;
      p.externalUserState = r.chance(0.85) ? 'Accepted' : 'PendingAcceptance';
      if (r.chance(0.7)) p.givenName = given;
      p.mail = `${local}@${gdomain}`;
      p.mailNickname = ext;
      if (r.chance(0.2)) p.mobilePhone = loc.mobile(r);
      if (r.chance(0.3)) p.companyName = gdomain.split('.')[0]?.replace(/^./, (c) => c.toUpperCase());
      p.otherMails = [`${local}@${gdomain}`];
      if (r.chance(0.7)) p.surname = sur;
      p.userPrincipalName = `${ext}#EXT#@${tenant.initialDomain}`;
      p.userType = 'Guest';
    } else if (roll < 0.09) {
      // Resource and service accounts: no given name or surname, sometimes no mail.
      const kind = r.pick(['Room', 'Front Desk', 'Service', 'Shared']);
      const city = r.pick(loc.cities);
      const label =
        kind === 'Room'
          ? `Conference Room ${city} ${r.int(1, 12)}`
          : kind === 'Front Desk'
            ? `Front Desk ${city}`
            : kind === 'Service'
              ? `svc-sync-${r.digits(3)}`
              : `${r.pick(DEPARTMENT_NAMES)} Shared Mailbox`;
      const local = uniqueLocal(asciiName(label.replace(/ /g, '.')) || `svc${i}`);
      p.accountEnabled = kind !== 'Shared' && !r.chance(0.1);
      p.businessPhones = kind === 'Front Desk' ? [r.chance(0.5) ? r.digits(4) : loc.phone(r)] : [];
      p.createdDateTime = created;
      p.displayName = label;
      if (kind !== 'Service') p.mail = `${local}@${domain}`;
      p.mailNickname = local;
      if (kind === 'Room') p.officeLocation = city;
      p.userPrincipalName = `${local}@${domain}`;
      p.userType = 'Member';
      p.usageLocation = loc.usage;
    } else {
      const local = uniqueLocal(`${asciiName(firstRoman)}.${asciiName(lastRoman)}`);
      const dept = r.chance(0.7) ? r.pick(DEPARTMENT_NAMES) : undefined;
      const city = r.chance(0.65) ? r.pick(loc.cities) : undefined;
      p.accountEnabled = !r.chance(0.04);
      const phones: string[] = [];
      if (r.chance(0.6)) {
        const x = r.next();
        if (x < 0.14)
          phones.push(r.chance(0.8) ? r.digits(r.pick([3, 4, 4, 4, 5])) : `${r.int(1, 9)}${r.digits(3)}`);
        else if (x < 0.18) phones.push(`x${r.digits(4)}`);
        else if (x < 0.21) phones.push(`${loc.phone(r)} ext. ${r.digits(4)}`);
        else phones.push(loc.phone(r));
      }
      p.businessPhones = phones;
      if (city) p.city = city;
      if (r.chance(0.6)) p.companyName = org;
      if (city || r.chance(0.3)) p.country = loc.country;
      p.createdDateTime = created;
      if (dept) p.department = dept;
      p.displayName = displayName;
      if (r.chance(0.4)) p.employeeId = r.digits(6);
      if (r.chance(0.2)) p.employeeType = r.pick(['Employee', 'Contractor', 'Intern']);
      p.givenName = given;
      if (dept ? r.chance(0.92) : r.chance(0.3))
        p.jobTitle = r.pick(DEPARTMENTS[dept ?? r.pick(DEPARTMENT_NAMES)] ?? []);
      // A few members have no mailbox (no license): mail is never set.
      if (!r.chance(0.03)) p.mail = `${local}@${domain}`;
      p.mailNickname = local;
      if (r.chance(0.55)) p.mobilePhone = loc.mobile(r);
      if (city && r.chance(0.75))
        p.officeLocation = `${city} ${r.pick(['HQ', 'Office', 'Campus', 'Building'])} ${r.int(1, 9)}`;
      if (r.chance(0.7)) p.preferredLanguage = loc.tag;
      if (p.mail) p.proxyAddresses = [`SMTP:${p.mail}`];
      p.surname = sur;
      if (r.chance(0.92)) p.usageLocation = loc.usage;
      p.userPrincipalName = `${local}@${domain}`;
      p.userType = 'Member';
    }
    users.push(tenant.seedUser(id, p));
  }

  // ---- groups
  const groupCount = Math.max(options.groups ?? Math.max(10, Math.floor(total / 20)), 1);
  const groups: GroupRecord[] = [];
  const mkGroup = (
    displayName: string,
    kind: 'unified' | 'security' | 'mailsecurity' | 'distribution',
    description?: string,
  ): GroupRecord => {
    const nick = `${asciiName(displayName.replace(/\s+/g, '-')) || 'group'}${groups.length}`;
    const unified = kind === 'unified';
    const mailEnabled = kind !== 'security';
    const created = isoDay(created0, r, 4 * 365);
    const p: Props = {
      createdDateTime: created,
      displayName,
      groupTypes: unified ? ['Unified'] : [],
      mailEnabled,
      mailNickname: nick,
      renewedDateTime: created,
      securityEnabled: kind === 'security' || kind === 'mailsecurity',
      securityIdentifier: `S-1-12-1-${r.digits(10)}-${r.digits(10)}-${r.digits(9)}-${r.digits(10)}`,
    };
    if (description) p.description = description;
    if (mailEnabled) {
      p.mail = `${nick}@${domain}`;
      p.proxyAddresses = [`SMTP:${nick}@${domain}`];
    } else {
      p.proxyAddresses = [];
    }
    if (unified) {
      p.visibility = r.chance(0.8) ? 'Public' : 'Private';
      p.preferredLanguage = r.chance(0.3) ? 'en-US' : undefined;
      if (p.preferredLanguage === undefined) delete p.preferredLanguage;
    }
    const g = tenant.seedGroup(r.uuid(), p);
    groups.push(g);
    return g;
  };

  // All Company (Microsoft 365): every member (not guests).
  const all = mkGroup('All Company', 'unified', 'This is the default group for everyone in the network');
  for (const u of users) if (u.p.userType === 'Member') tenant.seedMember(all, u.id);

  // One security group per department, plus a Microsoft 365 team for some.
  const deptQuota = Math.min(DEPARTMENT_NAMES.length, Math.ceil(groupCount * 0.2));
  const cityQuota = Math.ceil(groupCount * 0.2);
  const deptGroups = new Map<string, GroupRecord>();
  for (const d of DEPARTMENT_NAMES.slice(0, deptQuota)) {
    if (groups.length >= groupCount) break;
    deptGroups.set(d, mkGroup(`SG-${d.replace(/\s+/g, '-')}`, 'security', `All members of ${d}`));
  }
  for (const u of users) {
    const g = deptGroups.get(String(u.p.department));
    if (g) tenant.seedMember(g, u.id);
  }

  // Location groups (mail-enabled security) nested under regional security groups.
  const cityGroups = new Map<string, GroupRecord>();
  const byWeight = [...LOCALES].sort((a, b) => b.weight - a.weight);
  for (let round = 0; round < 2; round++) {
    for (const loc of byWeight) {
      const city = loc.cities[round];
      if (!city || cityGroups.size >= cityQuota || groups.length >= groupCount - 2) break;
      cityGroups.set(city, mkGroup(`All ${city}`, 'mailsecurity', `Everyone based in ${city}`));
    }
  }
  for (const u of users) {
    const g = cityGroups.get(String(u.p.city));
    if (g) tenant.seedMember(g, u.id);
  }
  if (groupCount >= 20 && groups.length < groupCount && cityGroups.size > 1) {
    const regions: Record<string, string[]> = {
      'SG-Region-Americas': ['en-US', 'pt-BR'],
      'SG-Region-EMEA': ['en-GB', 'de-DE', 'fr-FR', 'es-ES', 'nl-NL', 'pl-PL', 'sv-SE', 'tr-TR'],
      'SG-Region-APAC': ['ja-JP', 'zh-CN', 'en-IN'],
    };
    const regionGroups: GroupRecord[] = [];
    for (const [name, tags] of Object.entries(regions)) {
      if (groups.length >= groupCount) break;
      const rg = mkGroup(name, 'security', `Nested: the location groups of ${name.slice(10)}`);
      regionGroups.push(rg);
      for (const loc of LOCALES) {
        if (!tags.includes(loc.tag)) continue;
        for (const city of loc.cities) {
          const cg = cityGroups.get(city);
          if (cg) tenant.seedMember(rg, cg.id);
        }
      }
    }
    if (groups.length < groupCount && regionGroups.length > 1) {
      const global = mkGroup('SG-Global', 'security', 'Nested two levels: all regions');
      for (const rg of regionGroups) tenant.seedMember(global, rg.id);
    }
  }

  // A few distribution lists and the rest as project / team groups with random members.
  const members = users.filter((u) => u.p.userType === 'Member');
  const guests = users.filter((u) => u.p.userType === 'Guest');
  const usedNames = new Set(groups.map((g) => String(g.p.displayName)));
  const nestable = groups.filter((x) => x.p.securityEnabled && (x.p.groupTypes as string[]).length === 0);
  let k = 0;
  while (groups.length < groupCount) {
    k++;
    const kindRoll = r.next();
    const kind: 'unified' | 'security' | 'distribution' =
      kindRoll < 0.55 ? 'unified' : kindRoll < 0.9 ? 'security' : 'distribution';
    let name =
      kind === 'distribution'
        ? `DL ${r.pick(DEPARTMENT_NAMES)} ${r.pick(['Announcements', 'Newsletter', 'Updates'])}`
        : `${r.pick(TEAM_KINDS)} ${r.pick(PROJECT_WORDS)}`;
    if (usedNames.has(name)) name = `${name} ${k}`;
    usedNames.add(name);
    const g = mkGroup(
      name,
      kind,
      r.chance(0.7) ? `${name} (${kind === 'unified' ? 'Microsoft 365' : kind})` : undefined,
    );
    const size = r.chance(0.05) ? 0 : Math.min(members.length, Math.floor(3 + r.next() ** 2 * 80));
    for (let j = 0; j < size; j++) tenant.seedMember(g, (r.pick(members) as UserRecord).id);
    if (guests.length > 0 && kind === 'unified' && r.chance(0.3)) {
      for (let j = 0; j < r.int(1, 3); j++) tenant.seedMember(g, (r.pick(guests) as UserRecord).id);
    }
    if (kind === 'security' && r.chance(0.15) && nestable.length > 0) {
      // nest an existing security group (created earlier: no cycles)
      tenant.seedMember(g, (r.pick(nestable) as GroupRecord).id);
    }
    if (kind === 'security') nestable.push(g);
  }

  seedMailboxes(tenant, admin, members, options);
  return { tenant, app, clientSecret, adminUpn: String(admin.p.userPrincipalName) };
}

/**
 * Shared mailboxes and the contacts of every mailbox. A stream of its own, so the users and
 * groups of a seed stay the same whatever these options are. Each shared mailbox is a user
 * that cannot sign in (accountEnabled false, as Exchange creates one) with FullAccess
 * members: the Global Administrator (the account that usually connects the gateway) and two
 * other members.
 */
function seedMailboxes(
  tenant: Tenant,
  admin: UserRecord,
  members: UserRecord[],
  options: TenantSeedOptions,
): void {
  const r = new SeededRandom(options.seed ^ 0x5eed);
  const shared: UserRecord[] = [];
  const domain = tenant.defaultDomain;
  const count = Math.max(0, Math.floor(options.sharedMailboxes ?? 0));
  for (let i = 0; i < count; i++) {
    const base = SHARED_MAILBOX_NAMES[i % SHARED_MAILBOX_NAMES.length] as string;
    const round = Math.floor(i / SHARED_MAILBOX_NAMES.length);
    const name = round === 0 ? base : `${base} ${round + 1}`;
    const nick = `${asciiName(name)}.shared`;
    const u = tenant.seedUser(r.uuid(), {
      accountEnabled: false,
      businessPhones: [],
      createdDateTime: '2021-03-01T09:00:00Z',
      displayName: `${name} (shared mailbox)`,
      mail: `${nick}@${domain}`,
      mailNickname: nick,
      proxyAddresses: [`SMTP:${nick}@${domain}`],
      userPrincipalName: `${nick}@${domain}`,
      userType: 'Member',
    });
    tenant.mailboxes.sharedMailboxes.add(u.id);
    shared.push(u);
  }
  tenant.mailboxes.configure(
    {
      seed: options.seed,
      contactsPerUser: Math.max(0, Math.floor(options.contactsPerUser ?? 0)),
      contactsPerSharedMailbox: Math.max(0, Math.floor(options.contactsPerMailbox ?? 0)),
      seededBelowOrdinal: tenant.nextOrdinal,
      ...(options.shareContactsWithAdmin ? { sharedWith: [admin.id] } : {}),
    },
    generateContact,
  );
  const candidates = members.filter((m) => m !== admin && m.p.mail && m.p.accountEnabled);
  for (const u of shared) {
    const box = tenant.mailboxes.mailbox(u.id, u.ordinal);
    box.touched = true; // kept by the state file (a restart does not seed again)
    box.members.add(admin.id);
    for (let j = 0; j < 2 && candidates.length > 0; j++)
      box.members.add((r.pick(candidates) as UserRecord).id);
  }
}
