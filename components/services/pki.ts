// A private CA per service and stack (@pulumi/tls): keys live only in encrypted state and in the
// secrets channel. Certificates are issued to exactly the names and addresses a peer dials.
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";

/** Ten years for the CA, two for leaves: a home lab must not stop on a forgotten renewal date. */
const CA_HOURS = 24 * 365 * 10;
const LEAF_HOURS = 24 * 365 * 2;
/** Renew a leaf on the first `pulumi up` in its last 90 days. */
const EARLY_RENEWAL_HOURS = 24 * 90;

export interface IssuedCert {
  readonly certPem: pulumi.Output<string>;
  readonly keyPem: pulumi.Output<string>;
}

export interface LeafArgs {
  readonly commonName: string;
  readonly dnsNames?: string[];
  readonly ipAddresses?: string[];
  readonly usage: "server" | "client" | "server+client";
}

export class ServiceCa {
  readonly certPem: pulumi.Output<string>;
  private readonly key: tls.PrivateKey;
  private readonly cert: tls.SelfSignedCert;

  constructor(private readonly name: string, commonName: string, private readonly opts: pulumi.CustomResourceOptions) {
    this.key = new tls.PrivateKey(`${name}-ca-key`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, opts);
    this.cert = new tls.SelfSignedCert(
      `${name}-ca`,
      {
        privateKeyPem: this.key.privateKeyPem,
        isCaCertificate: true,
        subject: { commonName, organization: "borg-collective" },
        validityPeriodHours: CA_HOURS,
        allowedUses: ["cert_signing", "crl_signing", "digital_signature"],
      },
      opts,
    );
    this.certPem = this.cert.certPem;
  }

  issue(leaf: string, args: LeafArgs): IssuedCert {
    const key = new tls.PrivateKey(`${this.name}-${leaf}-key`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, this.opts);
    const csr = new tls.CertRequest(
      `${this.name}-${leaf}-csr`,
      {
        privateKeyPem: key.privateKeyPem,
        subject: { commonName: args.commonName, organization: "borg-collective" },
        dnsNames: args.dnsNames ?? [],
        ipAddresses: args.ipAddresses ?? [],
      },
      this.opts,
    );
    const uses = [
      "digital_signature",
      "key_encipherment",
      ...(args.usage.includes("server") ? ["server_auth"] : []),
      ...(args.usage.includes("client") ? ["client_auth"] : []),
    ];
    const cert = new tls.LocallySignedCert(
      `${this.name}-${leaf}-cert`,
      {
        certRequestPem: csr.certRequestPem,
        caPrivateKeyPem: this.key.privateKeyPem,
        caCertPem: this.cert.certPem,
        validityPeriodHours: LEAF_HOURS,
        earlyRenewalHours: EARLY_RENEWAL_HOURS,
        allowedUses: uses,
      },
      this.opts,
    );
    return { certPem: cert.certPem, keyPem: pulumi.secret(key.privateKeyPem) };
  }
}
