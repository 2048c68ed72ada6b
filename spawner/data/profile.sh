# Paved, installed as /etc/profile.d/paved.sh by `make install`: a login shell started inside a Paved notebook
# server (`bash -l`, `sh -l`, tmux) runs /etc/profile, which resets PATH and so drops the server's Python, and
# with it `paved`. /etc/profile runs this file after setting PATH: the server's Python folder (PAVED_BIN, set by
# the spawner) goes back in front. Outside a Paved server PAVED_BIN is unset and nothing changes.
if [ -n "${PAVED_BIN:-}" ]; then
    case ":${PATH}:" in
        *":${PAVED_BIN}:"*) ;;
        *) PATH="${PAVED_BIN}${PATH:+:$PATH}"; export PATH ;;
    esac
fi
