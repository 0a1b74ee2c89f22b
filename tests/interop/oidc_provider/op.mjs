// A certified OpenID provider (panva/oidc-provider) for the ledger's interop test.
// Usage: node op.mjs <port> <backchannel_logout_uri>. Prints "ready <issuer>" when listening.
// Sign-in uses the library's development interactions (any login, any password).
import Provider from 'oidc-provider';

const [port, logoutUri] = [Number(process.argv[2]), process.argv[3]];
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'ledger-client',
      client_secret: 'ledger-client-secret-0123456789abcdef',
      redirect_uris: ['http://127.0.0.1/callback'],
      post_logout_redirect_uris: ['http://127.0.0.1/signed-out'],
      response_types: ['code'],
      grant_types: ['authorization_code'],
      token_endpoint_auth_method: 'client_secret_post',
      backchannel_logout_uri: logoutUri,
      backchannel_logout_session_required: true,
    },
  ],
  features: {
    devInteractions: { enabled: true },
    backchannelLogout: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  cookies: { keys: ['interop-cookie-key-0123456789'] },
  // The test's ledger listens on loopback, which the library's SSRF guard refuses: drop it.
  fetch: (url, options) => {
    const { dispatcher, ...rest } = options;
    return fetch(url, rest);
  },
  findAccount: async (ctx, id) => ({ accountId: id, claims: async () => ({ sub: id }) }),
});

provider.on('backchannel.error', (ctx, err) => console.error(`backchannel.error ${err.message}`));
provider.on('backchannel.success', () => console.log('backchannel.success'));
provider.listen(port, '127.0.0.1', () => console.log(`ready ${issuer}`));
