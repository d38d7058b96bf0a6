--- `:checkhealth tta_codegen`: is Neovim new enough, can the server start, is it attached?
local M = {}

function M.check()
  local health = vim.health
  local plugin = require('tta_codegen')
  local config = plugin.config
  health.start('tta-codegen')

  if vim.fn.has('nvim-0.11') == 1 then
    health.ok('Neovim ' .. tostring(vim.version()))
  else
    health.error('Neovim 0.11 or newer is required, this is ' .. tostring(vim.version()))
  end

  local exe = config.cmd[1]
  if vim.fn.executable(exe) == 1 then
    local path = vim.fn.exepath(exe)
    local out = vim.system({ path, '--version' }, { text = true }):wait(10000)
    if out.code == 0 and exe:match('tta%-codegen') then
      health.ok(('%s (%s)'):format(vim.trim(out.stdout or ''), path))
    else
      health.ok(('server command: %s'):format(table.concat(config.cmd, ' ')))
    end
  else
    health.error(('%q is not executable'):format(exe), {
      'pip install tta-codegen (or pipx install tta-codegen)',
      'or set cmd in require("tta_codegen").setup({ cmd = { "/path/to/tta-codegen", "serve" } })',
    })
  end

  local keys = vim.tbl_keys(config.settings or {})
  table.sort(keys)
  if #keys > 0 then
    health.info('settings sent to the server: ' .. table.concat(keys, ', '))
  else
    health.info('no settings in setup(): the server reads tta-codegen.toml and ~/.config/tta-codegen/config.toml')
  end

  if config.codelens then
    health.ok('code lenses on: review mode shows Accept | Discard | Diff | Regenerate (run with vim.lsp.codelens.run())')
  else
    health.info('code lenses off (setup({ codelens = false })): use :TTAAccept / :TTADiscard / :TTADiff')
  end

  local clients = vim.tbl_filter(function(c)
    return c.name == config.name
  end, vim.lsp.get_clients())
  if #clients == 0 then
    health.warn('no tta-codegen client is running', {
      ('open a file of a configured filetype (%s)'):format(table.concat(config.filetypes, ', ')),
      'see :LspLog for why the server did not start',
    })
  end
  for _, client in ipairs(clients) do
    local caps = client.server_capabilities or {}
    local commands = caps.executeCommandProvider and caps.executeCommandProvider.commands or {}
    health.ok(('client %d (root %s, encoding %s): %d commands, buffers %s'):format(
      client.id,
      client.root_dir or '-',
      client.offset_encoding,
      #commands,
      table.concat(vim.tbl_keys(client.attached_buffers or {}), ',')
    ))
  end
end

return M
