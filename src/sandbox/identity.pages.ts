/**
 * The HTML pages of the sandbox's sign-in: sign-in form, consent form, error page and
 * the auto-submitting form of `response_mode=form_post`. Plain forms, so that a test can
 * drive them with an HTTP client (no script needed).
 */
export function esc(s: unknown): string {
  return String(s ?? '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(title)}</title>
<style>
body{font-family:"Segoe UI",system-ui,sans-serif;background:#f2f2f2;margin:0}
main{max-width:440px;margin:8vh auto;background:#fff;padding:44px;box-shadow:0 2px 6px rgba(0,0,0,.2)}
h1{font-size:24px;font-weight:600;margin:0 0 16px}
.brand{font-size:13px;color:#737373;margin-bottom:20px}
label{display:block;margin:12px 0 4px;font-size:14px}
input[type=text],input[type=password],input[type=email]{width:100%;box-sizing:border-box;padding:6px 0;border:0;border-bottom:1px solid #666;font-size:15px}
button{margin-top:24px;padding:6px 24px;font-size:15px;border:0;cursor:pointer}
.primary{background:#0067b8;color:#fff}.secondary{background:#ccc;margin-right:8px}
.error{color:#e81123;font-size:14px;margin:8px 0}.hint{color:#737373;font-size:12px;margin-top:16px}
ul{padding-left:20px;font-size:14px}code{font-size:12px}
</style></head><body><main><div class="brand">Microsoft 365 sandbox tenant</div>${body}</main></body></html>`;
}

export function signInPage(
  action: string,
  flowId: string,
  opts: { loginHint?: string; error?: string; tenantName: string; appName: string },
): string {
  return page(
    'Sign in to your account',
    `<h1>Sign in</h1>
<p>to continue to <b>${esc(opts.appName)}</b> (${esc(opts.tenantName)})</p>
${opts.error ? `<div class="error" id="error">${esc(opts.error)}</div>` : ''}
<form method="post" action="${esc(action)}">
<input type="hidden" name="flow" value="${esc(flowId)}">
<label for="login">Email, phone, or Skype</label>
<input type="email" id="login" name="login" value="${esc(opts.loginHint ?? '')}" autocomplete="username" required>
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required>
<button class="primary" type="submit" name="action" value="signin">Sign in</button>
</form>
<p class="hint">Every sandbox user signs in with the password <code>Sandbox!2024</code>.</p>`,
  );
}

export function consentPage(
  action: string,
  flowId: string,
  opts: {
    appName: string;
    user: string;
    permissions: Array<{ name: string; description: string; admin: boolean }>;
    appRoles?: Array<{ name: string; description: string }>;
    canConsentForOrg: boolean;
    needsAdmin: boolean;
    adminConsent: boolean;
  },
): string {
  const list = opts.permissions
    .map(
      (p) =>
        `<li><b>${esc(p.name)}</b>: ${esc(p.description)}${p.admin ? ' <i>(admin consent required)</i>' : ''}</li>`,
    )
    .join('');
  const roles = (opts.appRoles ?? [])
    .map((p) => `<li><b>${esc(p.name)}</b> (application): ${esc(p.description)}</li>`)
    .join('');
  if (opts.needsAdmin && !opts.canConsentForOrg) {
    return page(
      'Need admin approval',
      `<h1>Need admin approval</h1>
<p><b>${esc(opts.appName)}</b> needs permission to access resources in your organization that only an admin can grant.
Please ask an admin to grant permission to this app before you can use it.</p>
<ul>${list}</ul>
<form method="post" action="${esc(action)}"><input type="hidden" name="flow" value="${esc(flowId)}">
<button class="secondary" type="submit" name="decision" value="cancel">Return to the application without granting consent</button></form>`,
    );
  }
  return page(
    'Permissions requested',
    `<h1>Permissions requested</h1>
<p>Signed in as <b>${esc(opts.user)}</b></p>
<p><b>${esc(opts.appName)}</b> would like to:</p>
<ul>${roles}${list}</ul>
<form method="post" action="${esc(action)}">
<input type="hidden" name="flow" value="${esc(flowId)}">
${
  opts.adminConsent
    ? '<input type="hidden" name="consent_for_org" value="on">'
    : opts.canConsentForOrg
      ? '<label><input type="checkbox" name="consent_for_org" value="on"> Consent on behalf of your organization</label>'
      : ''
}
<button class="secondary" type="submit" name="decision" value="cancel">Cancel</button>
<button class="primary" type="submit" name="decision" value="accept">Accept</button>
</form>`,
  );
}

export function errorPage(code: number, message: string, extra = ''): string {
  return page(
    'Sign in error',
    `<h1>Sorry, but we’re having trouble signing you in.</h1>
<div class="error" id="error">AADSTS${code}: ${esc(message)}</div>${extra}`,
  );
}

export function formPostPage(action: string, fields: Record<string, string>): string {
  const inputs = Object.entries(fields)
    .map(([k, v]) => `<input type="hidden" name="${esc(k)}" value="${esc(v)}">`)
    .join('');
  return `<!doctype html><html><head><title>Working...</title></head><body onload="document.forms[0].submit()">
<form method="POST" name="hiddenform" action="${esc(action)}">${inputs}<noscript><p>Script is disabled. Click Submit to continue.</p><input type="submit" value="Submit"></noscript></form></body></html>`;
}
