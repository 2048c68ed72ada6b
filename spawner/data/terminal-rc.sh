# Paved: the rc file of JupyterLab terminals (ServerApp.terminado_settings.shell_command runs
# `bash --rcfile <this> -i`). A terminal is a login shell by default, and Debian's /etc/profile resets PATH, which
# drops the server's Python (with `paved`) from it. Here the login files run as usual, then the server's PATH goes
# back in front; the PAVED_* variables are inherited from the server and /etc/profile leaves them alone.
_paved_server_path="$PATH"
[ -r /etc/profile ] && . /etc/profile
if [ -r "$HOME/.bash_profile" ]; then . "$HOME/.bash_profile"
elif [ -r "$HOME/.profile" ]; then . "$HOME/.profile"
elif [ -r "$HOME/.bashrc" ]; then . "$HOME/.bashrc"
fi
export PATH="$_paved_server_path${PATH:+:$PATH}"
unset _paved_server_path
