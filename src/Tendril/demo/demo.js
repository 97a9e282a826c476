// Boots converse.js against this Tendril server. Query string:
//   ?transport=websocket|bosh   (default websocket; the URLs are this server's /xmpp-websocket and /http-bind)
//   &websocket_url=… / &bosh_service_url=…   (override the URLs)
//   &jid=…&password=…           (test only: log in automatically; without them converse shows its login form)
//   &test=1                     (test only: expose converse's plugin API as window.tendrilDemo for the browser test)
import converse from './converse/converse.min.js'; // an ES module (converse.js 11+)

{
  const q = new URLSearchParams(location.search);
  const here = location.origin;
  const wsBase = here.replace(/^http/, 'ws');
  const transport = q.get('transport') || 'websocket';
  const settings = {
    assets_path: new URL('converse/', location.href).href,
    discover_connection_methods: false,
    allow_non_roster_messaging: true,
    view_mode: 'fullscreen',
    auto_reconnect: false,
    i18n: 'en',
    loglevel: q.get('test') ? 'debug' : 'warn',
    whitelisted_plugins: ['tendril-demo'],
  };
  if (transport === 'bosh') settings.bosh_service_url = q.get('bosh_service_url') || here + '/http-bind';
  else settings.websocket_url = q.get('websocket_url') || wsBase + '/xmpp-websocket';
  if (q.get('jid') && q.get('password')) {
    Object.assign(settings, { authentication: 'login', auto_login: true, jid: q.get('jid'), password: q.get('password') });
  }
  const test = q.get('test') === '1';
  converse.plugins.add('tendril-demo', {
    initialize() {
      if (!test) return;
      const _converse = this._converse;
      const state = window.tendrilDemo = { api: _converse.api, converse: _converse, connected: false, messages: [] };
      _converse.api.listen.on('connected', () => { state.connected = true; });
      _converse.api.listen.on('message', data => {
        const body = data?.attrs?.body ?? data?.stanza?.querySelector?.('body')?.textContent;
        if (body) state.messages.push({ from: data?.attrs?.from, body });
      });
    },
  });
  converse.initialize(settings);
}
