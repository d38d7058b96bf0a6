-- Inline completion in a real Neovim: the user types a signature key by key through the
-- real input loop, each key cancels the request still waiting, ghost text appears for the
-- last one, the accept key inserts it (reported to the server, which records the
-- acceptance and its outcome), and leaving insert mode clears what is shown.
local T = require('tta_test')
local p = T.params
T.setup({ codelens = false, completion = { debounce_ms = p.client_debounce_ms } })
local bufnr, client = T.open(p.file)
local C = require('tta_codegen.completion')
local ns = vim.api.nvim_get_namespaces().tta_codegen_completion
T.result.builtin = C.builtin
if C.builtin then
  T.skip('Neovim has vim.lsp.inline_completion: the built-in client is used')
end

local function extmarks()
  local out = {}
  for _, m in ipairs(vim.api.nvim_buf_get_extmarks(bufnr, ns, 0, -1, { details = true })) do
    local d = m[4]
    local virt = {}
    for _, chunk in ipairs(d.virt_text or {}) do
      virt[#virt + 1] = chunk[1]
    end
    for _, l in ipairs(d.virt_lines or {}) do
      virt[#virt + 1] = l[1][1]
    end
    out[#out + 1] = { row = m[2], col = m[3], text = virt }
  end
  return out
end

T.defer()
vim.api.nvim_win_set_cursor(0, { p.line, 0 })
vim.api.nvim_input('A')
local typed = p.typed
local i = 0
local function type_next()
  i = i + 1
  vim.api.nvim_input(typed:sub(i, i))
  if i < #typed then
    T.step(p.key_interval_ms, type_next)
    return
  end
  T.mark('typed')
  T.step_until(function()
    return C.current(bufnr) ~= nil
  end, 'ghost text', function()
    T.mark('ghost')
    T.result.ghost = C.current(bufnr)
    T.result.extmarks = extmarks()
    T.result.counters = vim.deepcopy(C.counters)
    local tick = vim.api.nvim_buf_get_changedtick(bufnr)
    vim.api.nvim_input('<M-l>')
    T.step_until(function()
      return vim.api.nvim_buf_get_changedtick(bufnr) > tick
    end, 'the accept key to change the buffer', function()
      T.result.mode_after_accept = vim.fn.mode()
      T.result.lines_after_accept = vim.api.nvim_buf_get_lines(bufnr, 0, -1, true)
      vim.api.nvim_input('<Esc>')
      T.step_until(function()
        return vim.fn.mode() == 'n'
      end, 'Esc to leave insert mode', function()
        T.result.extmarks_after_leave = extmarks()
        T.result.counters_end = vim.deepcopy(C.counters)
        vim.cmd.write()
        -- The acceptance went to the server as tta.completionAccepted.
        local stats
        T.wait(function()
          local r = client:request_sync('workspace/executeCommand', {
            command = 'tta.stats',
            arguments = { vim.empty_dict() },
          }, T.HANG_GUARD_MS, bufnr)
          stats = r and r.result
          return stats and stats.completions and #stats.completions > 0
            and stats.completions[1].accepted > 0
        end, 'the acceptance in tta.stats')
        T.result.completion_stats = stats.completions
        T.result.outcomes = stats.outcomes
        T.finish()
      end)
    end)
  end)
end
T.step(50, type_next)
