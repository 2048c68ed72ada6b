// A real OpenID Connect provider for Paved's OAuth login tests: `oidc-provider` (a certified OP) with a few
// password accounts that carry a `groups` claim, one confidential client, and a minimal login form.
//
//   node provider.js --port 9000 --redirect-uri http://127.0.0.1:8000/hub/oauth_callback \
//        [--client-id paved] [--client-secret s3cret] [--accounts accounts.json]
//
// Every option can also come from the environment (OIDC_PORT, OIDC_REDIRECT_URI, OIDC_CLIENT_ID,
// OIDC_CLIENT_SECRET, OIDC_ACCOUNTS). The accounts file ({"<login>": {"password", "groups", "name", "email"}})
// is re-read on every login and userinfo request, so a test can change a user's groups between logins.
// The issuer is http://127.0.0.1:<port>. Prints "oidc-provider listening on <issuer>" once it accepts requests.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

const { values: opts } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.OIDC_PORT },
    'redirect-uri': { type: 'string', default: process.env.OIDC_REDIRECT_URI },
    'client-id': { type: 'string', default: process.env.OIDC_CLIENT_ID || 'paved' },
    'client-secret': { type: 'string', default: process.env.OIDC_CLIENT_SECRET || 'paved-test-client-secret' },
    accounts: { type: 'string', default: process.env.OIDC_ACCOUNTS },
  },
});
if (!opts.port || !opts['redirect-uri']) {
  console.error('usage: node provider.js --port PORT --redirect-uri URL [--client-id ID] [--client-secret S] [--accounts FILE]');
  process.exit(2);
}

// Two project users and an admin; `nico` is in no project group.
const DEFAULT_ACCOUNTS = {
  olivia: { password: 'olivia-pw', name: 'Olivia Forecaster', groups: ['imbalance-price-forecast', 'staff'] },
  nico: { password: 'nico-pw', name: 'Nico Newcomer', groups: ['staff'] },
  ada: { password: 'ada-pw', name: 'Ada Admin', groups: ['paved-admins'] },
};

function accounts() {
  return opts.accounts ? JSON.parse(readFileSync(opts.accounts, 'utf8')) : DEFAULT_ACCOUNTS;
}

const issuer = `http://127.0.0.1:${opts.port}`;
const SCOPE = 'openid profile email groups';

const provider = new Provider(issuer, {
  clients: [{
    client_id: opts['client-id'],
    client_secret: opts['client-secret'],
    redirect_uris: [opts['redirect-uri']],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
  }],
  // scope -> claims it releases; `groups` is the claim Paved maps onto hub groups (and so projects).
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username'],
    email: ['email', 'email_verified'],
    groups: ['groups'],
  },
  async findAccount(ctx, id) {
    const account = accounts()[id];
    if (!account) return undefined;
    return {
      accountId: id,
      async claims() {
        const current = accounts()[id] || {};
        return {
          sub: id,
          preferred_username: id,
          name: current.name || id,
          email: current.email || `${id}@example.test`,
          email_verified: true,
          groups: current.groups || [],
        };
      },
    };
  },
  // A first-party client: consent is implied, as corporate IdPs do for their own apps.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope(SCOPE);
    await grant.save();
    return grant;
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  features: { devInteractions: { enabled: false } },
  cookies: { keys: ['paved-test-cookie-key'] },
});

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function loginPage(uid, error) {
  return `<!doctype html><html><head><title>Test IdP: sign in</title></head><body>
<h1>Test identity provider</h1>
${error ? `<p class="error">${escape(error)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}/login">
  <input name="login" placeholder="username" autofocus>
  <input name="password" type="password" placeholder="password">
  <button type="submit">Sign in</button>
</form></body></html>`;
}

async function readForm(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return new URLSearchParams(body);
}

function send(res, status, html) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(html);
}

// The login form: GET /interaction/<uid> shows it, POST /interaction/<uid>/login checks the password.
async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid || details.prompt.name !== 'login') {
    return send(res, 400, '<p>Unexpected interaction.</p>');
  }
  if (req.method === 'GET' && !action) return send(res, 200, loginPage(uid));
  if (req.method === 'POST' && action === 'login') {
    const form = await readForm(req);
    const account = accounts()[form.get('login')];
    if (!account || account.password !== form.get('password')) {
      return send(res, 401, loginPage(uid, 'Wrong username or password.'));
    }
    return provider.interactionFinished(req, res, { login: { accountId: form.get('login') } },
      { mergeWithLastSubmission: false });
  }
  return send(res, 405, '<p>Method not allowed.</p>');
}

const handleProvider = provider.callback();
const server = http.createServer(async (req, res) => {
  const match = /^\/interaction\/([^/?]+)(?:\/(login))?(?:\?.*)?$/.exec(req.url);
  if (!match) return handleProvider(req, res);
  try {
    return await interaction(req, res, match[1], match[2]);
  } catch (err) {
    console.error(err);
    return send(res, 400, `<p>${escape(err.message)}</p>`);
  }
});
server.listen(Number(opts.port), '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${issuer}`);
});
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)));
