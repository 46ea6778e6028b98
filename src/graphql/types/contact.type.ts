import { Field, ID, InputType, ObjectType, registerEnumType } from 'type-graphql';
import { ExtensionType } from './extension.type.js';
import { PageInfo } from './page-info.type.js';

/** The GraphQL face of the domain's ContactSourceKind. */
export const ContactMatchSourceEnum = {
  EXTENSION: 'EXTENSION',
  PERSONAL_CONTACT: 'PERSONAL_CONTACT',
  PHONEBOOK: 'PHONEBOOK',
} as const;

registerEnumType(ContactMatchSourceEnum, {
  name: 'ContactMatchSource',
  description: 'Where a lookup found a match; also the precedence of lookupCaller, first to last.',
  valuesConfig: {
    EXTENSION: { description: 'An extension of the PBX.' },
    PERSONAL_CONTACT: { description: "One of the caller's own (Linkus) contacts." },
    PHONEBOOK: { description: 'A contact of a phonebook the caller sees.' },
  },
});

export const SearchRankEnum = {
  EXACT_NAME: 'EXACT_NAME',
  NAME_PREFIX: 'NAME_PREFIX',
  WORD_PREFIX: 'WORD_PREFIX',
  NUMBER_PREFIX: 'NUMBER_PREFIX',
} as const;

registerEnumType(SearchRankEnum, {
  name: 'SearchRank',
  description: 'Why a search result matched, best first.',
  valuesConfig: {
    EXACT_NAME: { description: 'The whole name is the query.' },
    NAME_PREFIX: { description: 'The name starts with the query.' },
    WORD_PREFIX: {
      description: 'A later word of the name, or the company (or a word of it), starts with the query.',
    },
    NUMBER_PREFIX: { description: 'A number starts with the query.' },
  },
});

@ObjectType('ContactMatch', { description: 'An extension or contact that a lookup found.' })
export class ContactMatchType {
  @Field(() => ContactMatchSourceEnum)
  source!: keyof typeof ContactMatchSourceEnum;

  @Field(() => ID, { description: "The contact's id, or the extension's." })
  id!: string;

  @Field(() => String)
  displayName!: string;

  @Field(() => String, { nullable: true })
  company!: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'The number that matched, as dialled (for a name match: the first number).',
  })
  number!: string | null;

  @Field(() => String, { nullable: true, description: 'Source EXTENSION: its number.' })
  extensionNumber!: string | null;

  @Field(() => ID, { nullable: true, description: 'Source PHONEBOOK: its id.' })
  phonebookId!: string | null;

  @Field(() => String, { nullable: true, description: 'Source PHONEBOOK: its name.' })
  phonebookName!: string | null;

  @Field(() => SearchRankEnum)
  rank!: keyof typeof SearchRankEnum;
}

@ObjectType('ContactMatchEdge')
export class ContactMatchEdge {
  @Field(() => String)
  cursor!: string;

  @Field(() => ContactMatchType)
  node!: ContactMatchType;
}

@ObjectType('ContactSearchConnection', {
  description: 'A page of search results, best first. No total: a search never counts every match.',
})
export class ContactSearchConnection {
  @Field(() => [ContactMatchEdge])
  edges!: ContactMatchEdge[];

  @Field(() => [ContactMatchType])
  nodes!: ContactMatchType[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;
}

@ObjectType('PhonebookVisibility', { description: 'Who sees a phonebook: nobody until granted (C3).' })
export class PhonebookVisibilityType {
  @Field(() => Boolean, { description: 'Every extension of the PBX.' })
  allExtensions!: boolean;

  @Field(() => [ID])
  extensionIds!: string[];

  @Field(() => [ID], { description: 'The members of these extension groups.' })
  extensionGroupIds!: string[];
}

@ObjectType('Phonebook', {
  description: "A phonebook of the PBX: a shared mailbox's contacts (C3), or one made by hand.",
})
export class PhonebookType {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  name!: string;

  @Field(() => String, { nullable: true, description: "The shared mailbox's user object id, when synced." })
  mailboxId!: string | null;

  @Field(() => Boolean, { description: 'Synced from Microsoft 365: labelled, read-only.' })
  synced!: boolean;

  @Field(() => PhonebookVisibilityType)
  visibility!: PhonebookVisibilityType;

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => Date)
  updatedAt!: Date;
}

@InputType('PhonebookVisibilityInput')
export class PhonebookVisibilityInput {
  @Field(() => ID)
  phonebookId!: string;

  @Field(() => Boolean)
  allExtensions!: boolean;

  @Field(() => [ID], { description: 'Extensions of this PBX (INVALID_INPUT names unknown ones).' })
  extensionIds!: string[];

  @Field(() => [ID], { description: 'Extension groups of this PBX (INVALID_INPUT names unknown ones).' })
  extensionGroupIds!: string[];
}

@ObjectType('Me', { description: 'Who the key is.' })
export class MeType {
  @Field(() => String)
  role!: string;

  @Field(() => ID)
  pbxId!: string;

  @Field(() => ID)
  keyId!: string;

  @Field(() => ExtensionType, { nullable: true, description: "A LINKUS key's extension (its Linkus user)." })
  extension!: ExtensionType | null;
}

/** How many results a search page holds at most. */
export const SEARCH_PAGE_DESCRIPTION = '1 to 100, default 20.';
