;;; lockls.el --- lockls (lock bugs in C) through eglot  -*- lexical-binding: t; -*-

;; Version: 0.1.0
;; Package-Requires: ((emacs "27.1") (eglot "1.9"))
;; Keywords: c, tools, languages

;;; Commentary:

;; Registers the lockls language server with eglot for C buffers.
;;
;;   (add-to-list 'load-path "/path/to/lockls/editors/emacs")
;;   (require 'lockls)
;;   (lockls-eglot-setup)                 ; register lockls for c-mode / c-ts-mode
;;   (add-hook 'c-mode-hook #'eglot-ensure) ; optional: start it automatically
;;
;; Findings come through flymake (M-x flymake-show-buffer-diagnostics), hover through
;; eldoc, quick-fixes through M-x eglot-code-actions.  eglot runs one server per major
;; mode and project: lockls replaces clangd for C buffers while registered.

;;; Code:

(require 'eglot)

(defgroup lockls nil
  "Lock bugs in C, through the lockls language server."
  :group 'tools
  :prefix "lockls-")

(defcustom lockls-command '("lockls")
  "The lockls server command and its arguments."
  :type '(repeat string))

(defcustom lockls-config-file nil
  "Use this configuration file for every document (lockls setting `configFile').
Nil: the nearest .lockls.toml above each file."
  :type '(choice (const :tag "Nearest .lockls.toml" nil) file))

(defcustom lockls-select nil
  "Report only these rules (lockls setting `select'); nil: the configuration's."
  :type '(repeat string))

(defcustom lockls-major-modes '(c-mode c-ts-mode)
  "Major modes lockls is registered for."
  :type '(repeat symbol))

(defun lockls-initialization-options ()
  "The lockls settings sent as LSP initializationOptions."
  (or (append (and lockls-config-file (list :configFile lockls-config-file))
              (and lockls-select (list :select (vconcat lockls-select))))
      (make-hash-table)))                 ; {} rather than null

(defun lockls-eglot-contact (&optional _interactive)
  "The eglot contact for lockls (a function, so that customizations apply at start)."
  (append lockls-command
          (list :initializationOptions (lambda (_server) (lockls-initialization-options)))))

;;;###autoload
(defun lockls-eglot-setup ()
  "Register lockls in `eglot-server-programs' for `lockls-major-modes'."
  (setq eglot-server-programs
        (cons (cons lockls-major-modes #'lockls-eglot-contact)
              (cl-remove #'lockls-eglot-contact eglot-server-programs :key #'cdr))))

(provide 'lockls)
;;; lockls.el ends here
