;;; emacs_test.el --- batch test of editors/emacs/lockls.el (run by tests/test_editors_emacs.py)
;; emacs --batch -Q -l emacs_test.el
;; Environment: LOCKLS_PLUGIN, LOCKLS_CMD (JSON list), LOCKLS_FILE, LOCKLS_OUT, LOCKLS_HOVER_LINE (0-based).
(require 'package)
;; -Q skips Debian's site-start, which activates the elpa-* packages (elpa-eglot)
(setq package-user-dir (make-temp-file "lockls-elpa" t))
(dolist (dir '("/usr/share/emacs/site-lisp/elpa" "/usr/share/emacs/site-lisp/elpa-src"))
  (when (file-directory-p dir) (add-to-list 'package-directory-list dir)))
(package-initialize)
(require 'json)
(require 'cl-lib)

(defvar lockls-test-result (list (cons 'ok :json-false)))
(defun lockls-test-put (key value) (push (cons key value) lockls-test-result))

(defun lockls-test-wait (what pred &optional seconds)
  (let ((deadline (+ (float-time) (or seconds 15))))
    (while (and (not (funcall pred)) (< (float-time) deadline))
      (accept-process-output nil 0.05))
    (unless (funcall pred) (error "Timed out waiting for %s" what))))

(defun lockls-test-run ()
  (add-to-list 'load-path (getenv "LOCKLS_PLUGIN"))
  (require 'lockls)
  (setq lockls-command (append (json-read-from-string (getenv "LOCKLS_CMD")) nil))
  (lockls-eglot-setup)
  (setq eglot-sync-connect t)
  (find-file (getenv "LOCKLS_FILE"))
  (lockls-test-put 'major_mode (symbol-name major-mode))
  (lockls-test-put 'emacs emacs-version)
  (apply #'eglot (eglot--guess-contact))
  (lockls-test-wait "eglot to connect" (lambda () (eglot-current-server)))
  (lockls-test-put 'server_name (plist-get (eglot--server-info (eglot-current-server)) :name))
  (lockls-test-wait "flymake diagnostics"
                    (lambda () (flymake-start) (flymake-diagnostics)))
  (lockls-test-put
   'diagnostics
   (vconcat
    (mapcar (lambda (d)
              (let ((lsp (cdr (assoc 'eglot-lsp-diag (flymake-diagnostic-data d)))))
                (list (cons 'line (1- (line-number-at-pos (flymake-diagnostic-beg d))))
                      (cons 'type (symbol-name (flymake-diagnostic-type d)))
                      (cons 'text (flymake-diagnostic-text d))
                      (cons 'code (plist-get lsp :code)))))
            (flymake-diagnostics))))
  ;; hover, the request eldoc makes
  (goto-char (point-min))
  (forward-line (string-to-number (getenv "LOCKLS_HOVER_LINE")))
  (back-to-indentation)
  (let ((hover (jsonrpc-request (eglot-current-server) :textDocument/hover
                                (eglot--TextDocumentPositionParams))))
    (lockls-test-put 'hover (plist-get (plist-get hover :contents) :value)))
  ;; code actions at the diagnostic, the request M-x eglot-code-actions makes
  (let* ((d (car (flymake-diagnostics)))
         (actions (eglot-code-actions (flymake-diagnostic-beg d) (flymake-diagnostic-end d))))
    (lockls-test-put 'code_actions
                     (vconcat (mapcar (lambda (a) (plist-get a :title)) actions))))
  (ignore-errors (eglot-shutdown (eglot-current-server)))
  (setcdr (assq 'ok lockls-test-result) t))

(let ((code 0))
  (condition-case err
      (lockls-test-run)
    (error (lockls-test-put 'error (error-message-string err)) (setq code 1)))
  (with-temp-file (getenv "LOCKLS_OUT")
    (insert (json-encode lockls-test-result)))
  (kill-emacs code))
