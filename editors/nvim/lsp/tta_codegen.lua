-- Config for Neovim 0.11's `vim.lsp.enable('tta_codegen')`: the same client config that
-- require('tta_codegen').setup() starts itself (call setup({ autostart = false }) first to
-- set cmd/settings and get the :TTA* commands; override with vim.lsp.config('tta_codegen', {...})).
return require('tta_codegen').lsp_config()
