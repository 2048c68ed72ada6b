// Paved inside VS Code (code-server): a status bar entry with this server's scope (project · environment ·
// instance type · lifecycle) that opens a quick pick of links to the hub (Home, New notebook, Pipelines,
// Costs, Catalog); each link is also a command ("Paved: …" in the command palette). Plain JavaScript, no
// dependencies, nothing fetched: everything comes from the server's environment (see scope.js).
"use strict";

const vscode = require("vscode");
const paved = require("./scope");

const COMMAND_OF = {
  home: "paved.openHome",
  newNotebook: "paved.openNewNotebook",
  pipelines: "paved.openPipelines",
  costs: "paved.openCosts",
  catalog: "paved.openCatalog",
};

function open(url) {
  return vscode.env.openExternal(vscode.Uri.parse(url, true));
}

function notConfigured(what) {
  vscode.window.showWarningMessage(
    `Paved: no address for ${what}: this server's environment has no PAVED_HUB_URL or PAVED_<SERVICE>_URL.`,
  );
}

function activate(context) {
  const env = process.env;
  const text = paved.label(env);

  context.subscriptions.push(
    vscode.commands.registerCommand("paved.links", async () => {
      const items = paved.links(env).map((l) => ({label: l.label, description: l.url, detail: l.detail, url: l.url}));
      if (!items.length) return notConfigured("the hub");
      const picked = await vscode.window.showQuickPick(items, {
        title: text ? `Paved: ${text}` : "Paved",
        placeHolder: "Open a Paved page",
        matchOnDescription: true,
      });
      if (picked) await open(picked.url);
    }),
  );
  for (const [id, command] of Object.entries(COMMAND_OF)) {
    context.subscriptions.push(
      vscode.commands.registerCommand(command, async () => {
        const link = paved.links(env).find((l) => l.id === id);
        return link ? open(link.url) : notConfigured(id);
      }),
    );
  }

  if (!text) return;  // not a Paved server (no PAVED_PROJECT): the commands alone, no status bar entry
  const item = vscode.window.createStatusBarItem("paved.scope", vscode.StatusBarAlignment.Left, 100);
  item.name = "Paved";
  item.text = `$(project) ${text}`;
  const tooltip = new vscode.MarkdownString(
    `**Paved** ${text}\n\n` +
      paved.links(env).map((l) => `[${l.label}](${l.url})`).join(" · "),
  );
  item.tooltip = tooltip;
  item.command = "paved.links";
  item.accessibilityInformation = {label: `Paved: ${text}. Open Paved links.`};
  item.show();
  context.subscriptions.push(item);
}

function deactivate() {}

module.exports = {activate, deactivate};
