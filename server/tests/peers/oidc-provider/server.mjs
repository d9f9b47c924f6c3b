// A strict, real OAuth 2.0 authorization server for Patchbay's conformance
// tests: panva's `oidc-provider`, configured the way a careful provider is.
//
//   - PKCE with S256 required for every client;
//   - refresh tokens issued, rotated on every use, and a reused one revokes
//     the whole grant (the library's reuse detection);
//   - `iss` sent on every authorization response (RFC 9207);
//   - token revocation (RFC 7009), which also revokes the grant;
//   - no clock tolerance, short access tokens.
//
// Login and consent are plain HTML forms, so a test drives them the way a
// person would. Started by the tests on loopback:
//
//   REDIRECT_URIS=http://127.0.0.1:4000/oauth/oidc-peer/callback node server.mjs
//
// It prints one JSON line, {"issuer": …}, once it listens, and exits when
// its standard input closes (so it never outlives the test that started it).
// `GET /__test/stats` reports what it was asked, for tests to count.

import http from 'node:http';
import Provider from 'oidc-provider';

const CLIENT_ID = process.env.CLIENT_ID ?? 'patchbay-conformance';
const CLIENT_SECRET = process.env.CLIENT_SECRET ?? 'conformance-client-secret';
const ACCESS_TOKEN_SECONDS = Number(process.env.ACCESS_TOKEN_SECONDS ?? 300);
const redirectUris = (process.env.REDIRECT_URIS ?? '').split(',').filter(Boolean);
if (redirectUris.length === 0) {
  console.error('REDIRECT_URIS must name the console callback URLs');
  process.exit(2);
}

// One person, as the provider knows them.
const ACCOUNTS = { 'ada': { sub: 'ada', name: 'Ada Lovelace', email: 'ada@example.com' } };

const stats = {
  token_requests: 0, code_grants: 0, refresh_grants: 0, refresh_errors: [], revocations: 0, revocation_errors: [],
};

const server = http.createServer();
await new Promise((resolve) => server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    redirect_uris: redirectUris,
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    revocation_endpoint_auth_method: 'client_secret_basic',
  }],
  pkce: { methods: ['S256'], required: () => true },
  scopes: ['openid', 'profile', 'offline_access'],
  claims: { openid: ['sub'], profile: ['name'], email: ['email'] },
  // A refresh token with every code, whether or not offline_access was asked for.
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: true,
  clockTolerance: 0,
  ttl: {
    AccessToken: ACCESS_TOKEN_SECONDS,
    AuthorizationCode: 60,
    RefreshToken: 24 * 60 * 60,
    Grant: 24 * 60 * 60,
    Interaction: 10 * 60,
    Session: 60 * 60,
    IdToken: 60 * 60,
  },
  features: {
    devInteractions: { enabled: false },
    revocation: { enabled: true },
    userinfo: { enabled: true },
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  cookies: { keys: ['patchbay-conformance-cookie-key'] },
  findAccount: async (ctx, sub) => {
    const account = ACCOUNTS[sub];
    return account && { accountId: sub, claims: async () => account };
  },
});

provider.on('grant.success', (ctx) => {
  if (ctx.oidc.params.grant_type === 'refresh_token') stats.refresh_grants += 1;
  else stats.code_grants += 1;
});
provider.on('revocation.error', (ctx, error) => { stats.revocation_errors.push(error.error); });
provider.on('grant.error', (ctx, error) => {
  if (ctx.oidc.params?.grant_type === 'refresh_token') stats.refresh_errors.push(error.error);
});

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (res, title, body) => {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(`<!DOCTYPE html><html><head><title>${escape(title)}</title></head><body><h1>${escape(title)}</h1>${body}</body></html>`);
};
const readForm = async (req) => {
  let body = '';
  for await (const chunk of req) body += chunk;
  return Object.fromEntries(new URLSearchParams(body));
};

async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) throw new Error('interaction mismatch');
  const { prompt, params, session } = details;
  if (req.method === 'GET') {
    if (prompt.name === 'login') {
      return page(res, 'Sign in', `<form method="post" action="/interaction/${uid}/login">
        <label>Login <input name="login"></label> <button>Sign in</button></form>`);
    }
    return page(res, 'Authorize', `<p>${escape(params.client_id)} asks for ${escape(params.scope)}.</p>
      <form method="post" action="/interaction/${uid}/confirm">
      <button name="decision" value="approve">Approve</button>
      <button name="decision" value="deny">Deny</button></form>`);
  }
  const form = await readForm(req);
  if (action === 'login') {
    if (!ACCOUNTS[form.login]) return page(res, 'Sign in', '<p>No such account.</p>');
    return provider.interactionFinished(req, res, { login: { accountId: form.login } }, { mergeWithLastSubmission: false });
  }
  if (form.decision !== 'approve') {
    return provider.interactionFinished(req, res, {
      error: 'access_denied', error_description: 'The person <b>declined</b> at the provider',
    }, { mergeWithLastSubmission: false });
  }
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
  if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(prompt.details.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  const grantId = await grant.save();
  return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

const handle = provider.callback();
server.on('request', async (req, res) => {
  try {
    const url = new URL(req.url, issuer);
    if (url.pathname === '/__test/stats') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify(stats));
    }
    // A token endpoint that redirects to the real one: a client that
    // follows it would send the code and its secret on (SECURITY A10).
    if (url.pathname === '/redirecting/token') {
      res.writeHead(307, { location: `${issuer}/token` });
      return res.end();
    }
    if (url.pathname === '/token' && req.method === 'POST') stats.token_requests += 1;
    if (url.pathname === '/token/revocation' && req.method === 'POST') stats.revocations += 1;
    const step = url.pathname.match(/^\/interaction\/([^/]+)(?:\/(login|confirm))?$/);
    if (step) return await interaction(req, res, step[1], step[2]);
    return handle(req, res);
  } catch (error) {
    res.writeHead(500, { 'content-type': 'text/plain' });
    res.end(String(error?.message ?? error));
  }
});

process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
console.log(JSON.stringify({ issuer }));
