// The web app's entry: loads the deployment, draws the wallet bar and routes between pages
// (`#/deliberate`, `#/job/<id>`, `#/agents`, `#/arena`, `#/arena/<id>`, `#/guild`).
import { agentsPage } from './agents';
import { arenaPage, gamePage } from './arena';
import { type Deployment, loadDeployment } from './config';
import { deliberatePage } from './deliberate';
import { h, short, status } from './dom';
import { explain } from './errors';
import { guildPage } from './guild';
import { jobPage } from './job';
import { Wallets } from './wallet';

function walletBar(bar: HTMLElement, d: Deployment, wallets: Wallets): void {
  const render = () => {
    const s = wallets.session;
    const problems = h('span', { 'aria-live': 'assertive' });
    if (!s) {
      const choices = wallets.choices();
      const select = h('select', { id: 'wallet-choice', 'aria-label': 'Wallet' },
        ...choices.map((c) => h('option', { value: c.id }, c.name)));
      const connect = h('button', { type: 'button', id: 'connect', class: 'primary', disabled: choices.length === 0 }, 'Connect');
      connect.addEventListener('click', async () => {
        try {
          await wallets.connect(select.value);
        } catch (err) {
          problems.replaceChildren(status('error', explain(err, d.errors).message, 'wallet-error'));
        }
      });
      bar.replaceChildren(
        choices.length ? select : h('span', { class: 'muted' }, 'No wallet found: install one, or use a local dev chain for the dev wallet.'),
        connect,
        problems,
      );
      return;
    }
    const wrong = s.chainId !== d.config.chainId;
    const parts: (Node | string)[] = [];
    if (s.dev) parts.push(h('span', { class: 'badge dev', title: 'Signs in this page with a publicly known anvil test key: for local development only' }, 'DEV WALLET — public test key'));
    parts.push(h('span', { class: 'mono', title: s.address, 'data-testid': 'account' }, short(s.address)));
    if (wrong) {
      const sw = h('button', { type: 'button', id: 'switch-chain' }, `Switch network to chain ${d.config.chainId}`);
      sw.addEventListener('click', async () => {
        try {
          await wallets.switchChain();
        } catch (err) {
          problems.replaceChildren(status('error', explain(err, d.errors).message, 'wallet-error'));
        }
      });
      parts.push(status('error', `Wrong network: your wallet is on chain ${s.chainId}, this deployment is on chain ${d.config.chainId}.`, 'wrong-chain'), sw);
    } else {
      parts.push(h('span', { class: 'badge' }, `chain ${s.chainId}`));
    }
    parts.push(h('button', { type: 'button', id: 'disconnect', onclick: () => wallets.disconnect() }, 'Disconnect'), problems);
    bar.replaceChildren(...parts);
  };
  wallets.subscribe(render);
  render();
}

async function start(): Promise<void> {
  const view = document.getElementById('view');
  const bar = document.getElementById('wallet');
  if (!view || !bar) return;
  let d: Deployment;
  try {
    d = await loadDeployment();
  } catch (err) {
    view.replaceChildren(status('error', `Cannot load the deployment from the server: ${(err as Error).message}`));
    return;
  }
  const wallets = new Wallets(d.config);
  walletBar(bar, d, wallets);
  let cleanup: (() => void) | undefined;
  const route = () => {
    cleanup?.();
    const hash = location.hash || '#/deliberate';
    for (const link of document.querySelectorAll('nav a')) {
      const here = hash.startsWith(link.getAttribute('href') ?? '') || (hash.startsWith('#/job/') && link.getAttribute('href') === '#/deliberate');
      if (here) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    }
    const job = /^#\/job\/(\d+)$/.exec(hash);
    if (job?.[1]) cleanup = jobPage(view, d, wallets, job[1]);
    else if (hash === '#/agents') cleanup = agentsPage(view, d, wallets);
    else if (hash === '#/guild') cleanup = guildPage(view, d, wallets);
    else if (hash === '#/arena') cleanup = arenaPage(view, d, wallets);
    else if (/^#\/arena\/\d+$/.test(hash)) cleanup = gamePage(view, d, wallets, hash.split('/')[2] ?? '0');
    else cleanup = deliberatePage(view, d, wallets);
    const page = job ? `job ${job[1]}` : hash.startsWith('#/arena') ? 'arena' : hash === '#/agents' ? 'agents' : hash === '#/guild' ? 'guild' : 'deliberate';
    document.title = `NSED on chain — ${page}`;
  };
  window.addEventListener('hashchange', route);
  route();
  void h;
}

void start();
