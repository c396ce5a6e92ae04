"""DKIM keys and signatures for the end-to-end tests: keys are generated per
run with openssl, signatures made with dkimpy (python3-dkim), and the public
keys written in libopendkim's key-file format ("SELECTOR._domainkey.DOMAIN
RECORD" per line) for [fbl] dkim_key_file, so no DNS is involved."""
import base64, os, subprocess, sys

try:
    import dkim
except ImportError:
    # python3-dkim is a Debian package: reachable from another interpreter
    # (a pyenv python3 on PATH) through Debian's dist-packages.
    sys.path.append("/usr/lib/python3/dist-packages")
    import dkim


class Keys:
    def __init__(self, directory):
        self.dir = directory
        self.path = os.path.join(directory, "dkim-keys.txt")
        self.private = {}
        open(self.path, "w").close()

    def add(self, domain, selector="s1", publish=True):
        """A new 2048-bit RSA key for domain; its public key is published in
        the key file unless publish is False (a signer nobody can verify)."""
        pem = os.path.join(self.dir, f"{selector}.{domain}.pem")
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                        "rsa_keygen_bits:2048", "-out", pem], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        der = subprocess.run(["openssl", "pkey", "-in", pem, "-pubout", "-outform", "DER"],
                             check=True, stdout=subprocess.PIPE).stdout
        with open(pem, "rb") as f:
            self.private[(domain, selector)] = f.read()
        if publish:
            with open(self.path, "a") as f:
                f.write(f"{selector}._domainkey.{domain} v=DKIM1; k=rsa; "
                        f"p={base64.b64encode(der).decode()}\n")

    def sign(self, msg, domain, selector="s1", length=False):
        """msg (bytes, CRLF) with a DKIM-Signature by domain prepended."""
        sig = dkim.sign(msg, selector.encode(), domain.encode(),
                        self.private[(domain, selector)], length=length,
                        include_headers=[b"from", b"to", b"subject", b"message-id", b"date",
                                         b"mime-version", b"content-type"])
        return sig + msg
