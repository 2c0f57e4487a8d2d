// A real OpenID provider (panva/oidc-provider, certified) on loopback for tests/federation.
// Configured by the JSON in OIDC_TEST_CONFIG (see tests/federation/oidc_provider.py);
// prints "READY <port>" on stdout once it listens, and its errors on stderr.
import crypto from 'node:crypto';
import http from 'node:http';

import Provider from 'oidc-provider';

const config = JSON.parse(process.env.OIDC_TEST_CONFIG ?? '{}');
const accounts = config.accounts ?? {};
const scopes = config.scopes ?? { openid: ['sub'] };
// oidc-provider always sets the ID token's sub to the accountId: the accountId is the account's
// sub, and the login typed in the form is mapped to it by the login handler.
const bySub = new Map(Object.values(accounts).map((account) => [account.sub, account]));

const escape = (value) => String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (title, body) => `<!DOCTYPE html>
<html lang="fr"><head><meta charset="utf-8"><title>${escape(title)}</title></head>
<body><main>${body}</main></body></html>`;

function send(res, status, html) {
  res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(html);
}

function loginPage(res, uid, error) {
  const alert = error ? `<p role="alert">${escape(error)}</p>` : '';
  send(res, 200, page('Connexion', `<h1>Connexion</h1>${alert}
<form method="post" action="/interaction/${escape(uid)}/login">
<label for="login">Identifiant</label>
<input id="login" name="login" autocomplete="username" required autofocus>
<button type="submit">Se connecter</button>
</form>`));
}

async function readForm(req) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 10_000) throw new Error('form too large');
  }
  return new URLSearchParams(body);
}

// Grants every requested scope (and claim) so that there is no consent page: one form, then back
// to the client. A new login gets a new grant, since the account may differ from the session's.
async function finish(req, res, details, accountId, result, reuseGrant) {
  const { params, prompt } = details;
  const grant = (reuseGrant && details.grantId && (await provider.Grant.find(details.grantId)))
    || new provider.Grant({ accountId, clientId: params.client_id });
  grant.addOIDCScope(params.scope);
  if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
  for (const [indicator, names] of Object.entries(prompt.details.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, names.join(' '));
  }
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { ...result, consent: { grantId } });
}

async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  const { uid, prompt } = details;
  if (req.method === 'GET' && req.url === `/interaction/${uid}`) {
    if (prompt.name === 'consent') {
      return finish(req, res, details, details.session.accountId, {}, true);
    }
    return loginPage(res, uid);
  }
  if (req.method === 'POST' && req.url === `/interaction/${uid}/login`) {
    const login = ((await readForm(req)).get('login') ?? '').trim();
    const account = accounts[login];
    if (!account) return loginPage(res, uid, 'Identifiant inconnu.');
    const result = { login: { accountId: account.sub, acr: account.acr } };
    return finish(req, res, details, account.sub, result, false);
  }
  return send(res, 404, page('Introuvable', '<h1>Page introuvable</h1>'));
}

function signingKey() {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  return { ...jwk, kid: crypto.randomUUID(), alg: 'RS256', use: 'sig' };
}

// The provider's own pages, in French and without the default ones' web fonts (no network here).
async function logoutSource(ctx, form) {
  ctx.body = page('Déconnexion', `<h1>Se déconnecter de ${escape(ctx.host)} ?</h1>${form}
<button type="submit" form="op.logoutForm" name="logout" value="yes" autofocus>Se déconnecter</button>
<button type="submit" form="op.logoutForm">Rester connecté</button>`);
}

async function postLogoutSuccessSource(ctx) {
  ctx.body = page('Déconnecté', '<h1>Vous êtes déconnecté.</h1>');
}

async function renderError(ctx, out) {
  ctx.type = 'html';
  const lines = Object.entries(out).map(([k, v]) => `<p><strong>${escape(k)}</strong> : ${escape(v)}</p>`);
  ctx.body = page('Erreur', `<h1>Erreur</h1>${lines.join('')}`);
}

let provider;
let callback;
const server = http.createServer((req, res) => {
  if (req.url.startsWith('/interaction/')) {
    interaction(req, res).catch((err) => {
      console.error('interaction error:', err);
      send(res, 400, page('Erreur', `<h1>Erreur</h1><p>${escape(err.message)}</p>`));
    });
  } else {
    callback(req, res);
  }
});

server.listen(config.port ?? 0, '127.0.0.1', () => {
  const { port } = server.address();
  provider = new Provider(`http://${config.issuer_host ?? '127.0.0.1'}:${port}`, {
    clients: config.clients ?? [],
    jwks: { keys: [signingKey()] },
    async findAccount(ctx, sub) {
      const account = bySub.get(sub);
      return account && { accountId: sub, claims: () => ({ ...account.claims, sub }) };
    },
    // Each scope lists its claims, and all are advertised; a scope not listed here is dropped
    // from the grant, not refused.
    claims: scopes,
    scopes: Object.keys(scopes),
    acrValues: config.acr_values ?? [],
    // The claims asked by scope go in the ID token too, as FranceConnect+ does.
    conformIdTokenClaims: false,
    responseTypes: ['code'],
    pkce: { required: () => true },
    cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: { enabled: true, logoutSource, postLogoutSuccessSource },
    },
    interactions: { url: (ctx, { uid }) => `/interaction/${uid}` },
    renderError,
    // Explicit lifetimes, short as a test needs, which also silences the "SHOULD change" notices.
    ttl: { AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 600, Session: 3600, Grant: 3600 },
  });
  callback = provider.callback();
  provider.on('server_error', (ctx, err) => console.error('server_error:', err));
  for (const event of ['authorization.error', 'grant.error', 'end_session.error', 'userinfo.error']) {
    provider.on(event, (ctx, err) => console.error(`${event}: ${err.message} (${err.error_description ?? ''})`));
  }
  console.log(`READY ${port}`);
});
