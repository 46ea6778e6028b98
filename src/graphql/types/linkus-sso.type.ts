import { Field, InputType, ObjectType } from 'type-graphql';
import { IntegrationStatus } from '../../domain/integration.js';
// The IntegrationStatus enum is registered with the integration's types.
import './integration.type.js';

@ObjectType('LinkusSso', {
  description:
    'S1: single sign-on for Linkus with the Microsoft account of a synced user (S2), and the redirect URIs it uses.',
})
export class LinkusSsoType {
  @Field(() => Boolean, {
    description:
      'Linkus users may sign in with Microsoft. Sign-ins are refused anyway while the integration is not connected, disabled, or its user sync is paused (S3).',
  })
  enabled!: boolean;

  @Field(() => String, {
    nullable: true,
    description:
      "L1: the Linkus Web Client SSO redirect URI, the gateway's callback where Microsoft sends the user back. Add it to the app registration in Entra ID (Authentication → Web → Redirect URIs): Microsoft refuses a sign-in to an unregistered one (AADSTS50011). Null until the PBX has a public base URL.",
  })
  microsoftRedirectUri!: string | null;

  @Field(() => String, {
    nullable: true,
    description:
      'Where a Linkus client sends the browser to sign in, with redirect_uri, state, code_challenge and code_challenge_method=S256 added.',
  })
  startUrl!: string | null;

  @Field(() => [String], {
    description:
      "The Linkus clients' registered redirect URIs, where the gateway hands over the one-time code (web client: https; mobile apps: their own scheme; development: http on localhost).",
  })
  redirectUris!: string[];

  @Field(() => IntegrationStatus)
  integrationStatus!: IntegrationStatus;
}

@InputType('LinkusSsoInput')
export class LinkusSsoInput {
  @Field(() => Boolean)
  enabled!: boolean;

  @Field(() => [String], {
    description:
      'Every redirect URI of the Linkus clients (replaces the list): https on any host; a mobile app scheme in reverse domain notation (com.example.linkus:/callback); http only on localhost, 127.0.0.1 or [::1]. At most 20, each at most 256 characters, no fragment, no user name or password.',
  })
  redirectUris!: string[];
}
