package stream.tinkjava;

import com.google.crypto.tink.Aead;
import com.google.crypto.tink.BinaryKeysetReader;
import com.google.crypto.tink.BinaryKeysetWriter;
import com.google.crypto.tink.CleartextKeysetHandle;
import com.google.crypto.tink.InsecureSecretKeyAccess;
import com.google.crypto.tink.JsonKeysetReader;
import com.google.crypto.tink.JsonKeysetWriter;
import com.google.crypto.tink.KeysetHandle;
import com.google.crypto.tink.KeysetManager;
import com.google.crypto.tink.LegacyKeysetSerialization;
import com.google.crypto.tink.Parameters;
import com.google.crypto.tink.RegistryConfiguration;
import com.google.crypto.tink.TinkJsonProtoKeysetFormat;
import com.google.crypto.tink.TinkProtoKeysetFormat;
import com.google.crypto.tink.TinkProtoParametersFormat;
import com.google.crypto.tink.aead.AeadConfig;
import com.google.crypto.tink.aead.AeadParameters;
import com.google.crypto.tink.aead.AesCtrHmacAeadParameters;
import com.google.crypto.tink.aead.AesEaxParameters;
import com.google.crypto.tink.aead.AesGcmParameters;
import com.google.crypto.tink.aead.AesGcmSivParameters;
import com.google.crypto.tink.aead.ChaCha20Poly1305Parameters;
import com.google.crypto.tink.aead.KmsEnvelopeAead;
import com.google.crypto.tink.aead.XChaCha20Poly1305Parameters;
import com.google.crypto.tink.mac.MacConfig;
import com.google.crypto.tink.mac.PredefinedMacParameters;
import com.google.crypto.tink.proto.KeyData;
import com.google.crypto.tink.proto.KeyStatusType;
import com.google.crypto.tink.proto.Keyset;
import com.google.crypto.tink.proto.KeysetInfo;
import com.google.crypto.tink.proto.OutputPrefixType;
import com.google.protobuf.ByteString;
import com.google.protobuf.ExtensionRegistryLite;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.security.Security;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The Tink Java side of the keyset tool's round trip (run by {@code run.sh}).
 *
 * <p>{@code write DIR} makes keysets, ciphertexts and envelopes with Tink Java in DIR, and a
 * {@code manifest} saying what the keyset tool must find in them. {@code check DIR OUT} reads
 * DIR/manifest (written by run.sh from files the tool made) and checks each line with Tink Java;
 * it writes ciphertexts of the keysets it read, and OUT/manifest for the tool to check last.
 *
 * <p>Manifest lines, fields separated by one space, file names relative to the manifest's
 * directory; a keyset is {@code FILE} (cleartext, JSON or binary) or {@code FILE@MASTER@AADHEX}
 * (encrypted by the cleartext keyset MASTER with associated data AADHEX, "-" for none):
 *
 * <ul>
 *   <li>{@code keys KEYSET LISTING}: the keyset's keys, {@code id:STATUS:PREFIX[:primary]} joined
 *       by commas, ids unsigned;
 *   <li>{@code aead KEYSET CT AADHEX PT}: CT decrypts to PT with AADHEX, not with other data;
 *   <li>{@code refused KEYSET CT AADHEX}: CT does not decrypt (its key is DISABLED or DESTROYED);
 *   <li>{@code envelope KEYSET DEK CT AADHEX PT}: a KmsEnvelopeAead ciphertext whose "KMS" is the
 *       keyset's AEAD, data keys of template DEK;
 *   <li>{@code ambiguous KEYSET ID}: key management by ID is refused (several keys have it);
 *   <li>{@code invalid KEYSET WORD}: the keyset is refused (the tool's message holds WORD);
 *   <li>{@code invalid-envelope KEYSET CT AADHEX WORD}: an envelope whose data key is refused;
 *   <li>{@code unsupported KEYSET CT AADHEX ID}: decryption is refused naming key ID, of a type
 *       the tool does not implement;
 *   <li>{@code unsupported-primary KEYSET ID}: encryption is refused naming the primary ID.
 * </ul>
 *
 * <p>Exit status 0 when every check passed, 1 when one failed, 2 on a usage error.
 */
public final class RoundTrip {
  private static final SecureRandom RANDOM = new SecureRandom();
  private static final HexFormat HEX = HexFormat.of();

  /** Passed and failed checks by kind. */
  private final Map<String, int[]> counts = new TreeMap<>();

  private final List<String> manifest = new ArrayList<>();
  private final Path out;

  private RoundTrip(Path out) {
    this.out = out;
  }

  public static void main(String[] args) throws Exception {
    Security.insertProviderAt(org.conscrypt.Conscrypt.newProvider(), 1);
    AeadConfig.register();
    MacConfig.register();
    if (args.length == 2 && args[0].equals("write")) {
      RoundTrip rt = new RoundTrip(Paths.get(args[1]));
      rt.writeAll();
      rt.finish("write");
    } else if (args.length == 3 && args[0].equals("check")) {
      RoundTrip rt = new RoundTrip(Paths.get(args[2]));
      rt.checkManifest(Paths.get(args[1]));
      rt.finish("check");
    } else {
      System.err.println("usage: RoundTrip write DIR | check DIR OUTDIR");
      System.exit(2);
    }
  }

  private void finish(String phase) throws IOException {
    Files.write(out.resolve("manifest"), manifest, StandardCharsets.UTF_8);
    int passed = 0;
    int failed = 0;
    for (Map.Entry<String, int[]> e : counts.entrySet()) {
      System.out.printf(
          "tink-java %s: %-24s %4d passed, %d failed%n",
          phase, e.getKey(), e.getValue()[0], e.getValue()[1]);
      passed += e.getValue()[0];
      failed += e.getValue()[1];
    }
    System.out.printf("tink-java %s: %d passed, %d failed%n", phase, passed, failed);
    System.out.flush();
    System.exit(failed == 0 ? 0 : 1);
  }

  private void pass(String kind) {
    counts.computeIfAbsent(kind, k -> new int[2])[0]++;
  }

  private void fail(String kind, String what) {
    counts.computeIfAbsent(kind, k -> new int[2])[1]++;
    System.out.println("tink-java: FAILED " + kind + ": " + what);
  }

  // ---------------------------------------------------------------- parameters

  /** The AEAD parameters of a tool template name, with an output prefix (tink, crunchy, raw). */
  private static Parameters aeadParameters(String name, String prefix)
      throws GeneralSecurityException {
    boolean tink = prefix.equals("tink") || prefix.equals("legacy");
    boolean raw = prefix.equals("raw");
    switch (name) {
      case "aes128-gcm":
      case "aes256-gcm":
        return AesGcmParameters.builder()
            .setKeySizeBytes(name.startsWith("aes128") ? 16 : 32)
            .setIvSizeBytes(12)
            .setTagSizeBytes(16)
            .setVariant(
                tink
                    ? AesGcmParameters.Variant.TINK
                    : raw ? AesGcmParameters.Variant.NO_PREFIX : AesGcmParameters.Variant.CRUNCHY)
            .build();
      case "aes128-gcm-siv":
      case "aes256-gcm-siv":
        return AesGcmSivParameters.builder()
            .setKeySizeBytes(name.startsWith("aes128") ? 16 : 32)
            .setVariant(
                tink
                    ? AesGcmSivParameters.Variant.TINK
                    : raw
                        ? AesGcmSivParameters.Variant.NO_PREFIX
                        : AesGcmSivParameters.Variant.CRUNCHY)
            .build();
      case "aes128-ctr-hmac-sha256":
      case "aes256-ctr-hmac-sha256":
      case "aes256-ctr-hmac-sha512-iv12":
        boolean sha512 = name.contains("sha512");
        return AesCtrHmacAeadParameters.builder()
            .setAesKeySizeBytes(name.startsWith("aes128") ? 16 : 32)
            .setHmacKeySizeBytes(sha512 ? 64 : 32)
            .setIvSizeBytes(sha512 ? 12 : 16)
            .setTagSizeBytes(name.startsWith("aes128") ? 16 : sha512 ? 64 : 32)
            .setHashType(
                sha512
                    ? AesCtrHmacAeadParameters.HashType.SHA512
                    : AesCtrHmacAeadParameters.HashType.SHA256)
            .setVariant(
                tink
                    ? AesCtrHmacAeadParameters.Variant.TINK
                    : raw
                        ? AesCtrHmacAeadParameters.Variant.NO_PREFIX
                        : AesCtrHmacAeadParameters.Variant.CRUNCHY)
            .build();
      case "aes128-eax":
      case "aes256-eax":
      case "aes256-eax-iv12":
        return AesEaxParameters.builder()
            .setKeySizeBytes(name.startsWith("aes128") ? 16 : 32)
            .setIvSizeBytes(name.endsWith("iv12") ? 12 : 16)
            .setTagSizeBytes(16)
            .setVariant(
                tink
                    ? AesEaxParameters.Variant.TINK
                    : raw ? AesEaxParameters.Variant.NO_PREFIX : AesEaxParameters.Variant.CRUNCHY)
            .build();
      case "chacha20-poly1305":
        return ChaCha20Poly1305Parameters.create(
            tink
                ? ChaCha20Poly1305Parameters.Variant.TINK
                : raw
                    ? ChaCha20Poly1305Parameters.Variant.NO_PREFIX
                    : ChaCha20Poly1305Parameters.Variant.CRUNCHY);
      case "xchacha20-poly1305":
        return XChaCha20Poly1305Parameters.create(
            tink
                ? XChaCha20Poly1305Parameters.Variant.TINK
                : raw
                    ? XChaCha20Poly1305Parameters.Variant.NO_PREFIX
                    : XChaCha20Poly1305Parameters.Variant.CRUNCHY);
      default:
        throw new IllegalArgumentException("unknown template " + name);
    }
  }

  /** The data-key parameters of a tool --dek-template name (no prefix, as envelopes need). */
  private static AeadParameters dekParameters(String name) throws GeneralSecurityException {
    return (AeadParameters) aeadParameters(name, "raw");
  }

  private static final String[] TEMPLATES = {
    "aes128-gcm",
    "aes256-gcm",
    "aes128-gcm-siv",
    "aes256-gcm-siv",
    "aes128-ctr-hmac-sha256",
    "aes256-ctr-hmac-sha256",
    "aes256-ctr-hmac-sha512-iv12",
    "aes128-eax",
    "aes256-eax",
    "aes256-eax-iv12",
    "chacha20-poly1305",
    "xchacha20-poly1305",
  };
  private static final String[] PREFIXES = {"tink", "crunchy", "raw", "legacy"};
  private static final String[] DEKS = {
    "aes256-gcm-siv", "aes128-gcm-siv", "aes256-gcm", "aes128-gcm"
  };

  // ------------------------------------------------------------------- helpers

  private static Keyset proto(KeysetHandle handle) throws Exception {
    return Keyset.parseFrom(
        TinkProtoKeysetFormat.serializeKeyset(handle, InsecureSecretKeyAccess.get()),
        ExtensionRegistryLite.getEmptyRegistry());
  }

  private static KeysetHandle handle(Keyset keyset) throws GeneralSecurityException {
    return TinkProtoKeysetFormat.parseKeyset(keyset.toByteArray(), InsecureSecretKeyAccess.get());
  }

  private static Aead aead(KeysetHandle handle) throws GeneralSecurityException {
    return handle.getPrimitive(RegistryConfiguration.get(), Aead.class);
  }

  private static String legacyJson(Keyset keyset) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    JsonKeysetWriter.withOutputStream(bytes).write(keyset);
    return bytes.toString(StandardCharsets.UTF_8);
  }

  private static byte[] legacyBinary(Keyset keyset) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    BinaryKeysetWriter.withOutputStream(bytes).write(keyset);
    return bytes.toByteArray();
  }

  private void file(String name, byte[] contents) throws IOException {
    Files.write(out.resolve(name), contents);
  }

  private void file(String name, String contents) throws IOException {
    file(name, contents.getBytes(StandardCharsets.UTF_8));
  }

  private static byte[] plaintext(String label) {
    byte[] text = ("Tink Java round trip: " + label + " \u00e9\u20ac ").getBytes(StandardCharsets.UTF_8);
    byte[] out = Arrays.copyOf(text, text.length + 40);
    for (int i = 0; i < 40; i++) {
      out[text.length + i] = (byte) (i * 37);
    }
    return out;
  }

  private static String aadHex(String label) {
    return HEX.formatHex(("aad " + label).getBytes(StandardCharsets.UTF_8));
  }

  private static byte[] aadBytes(String hex) {
    return hex.equals("-") ? new byte[0] : HEX.parseHex(hex);
  }

  /** The listing of a keyset as the tool's `list` is compared: id:STATUS:PREFIX[:primary]. */
  private static String listing(KeysetHandle handle) {
    KeysetInfo info = LegacyKeysetSerialization.getKeysetInfo(handle);
    List<String> keys = new ArrayList<>();
    for (KeysetInfo.KeyInfo key : info.getKeyInfoList()) {
      keys.add(
          Integer.toUnsignedString(key.getKeyId())
              + ":"
              + key.getStatus().name()
              + ":"
              + key.getOutputPrefixType().name()
              + (key.getKeyId() == info.getPrimaryKeyId() ? ":primary" : ""));
    }
    return String.join(",", keys);
  }

  private static String id(int keyId) {
    return Integer.toUnsignedString(keyId);
  }

  // --------------------------------------------------------------- write phase

  private void writeAll() throws Exception {
    Files.createDirectories(out);
    KeysetHandle master = KeysetHandle.generateNew(aeadParameters("aes256-gcm-siv", "tink"));
    file("master.json", TinkJsonProtoKeysetFormat.serializeKeyset(master, InsecureSecretKeyAccess.get()));
    Aead masterAead = aead(master);

    // Every AEAD template with every prefix, each written by one of Tink's writers.
    int n = 0;
    for (String template : TEMPLATES) {
      for (String prefix : PREFIXES) {
        String name = "aead-" + template + "-" + prefix;
        KeysetHandle handle = KeysetHandle.generateNew(aeadParameters(template, prefix));
        String keysetFile;
        if (prefix.equals("legacy")) {
          // Tink's parameter API has no LEGACY AEAD variant: the key proto says LEGACY, and
          // Tink's proto writers write it as it is.
          Keyset keyset = proto(handle).toBuilder().build();
          keyset =
              keyset.toBuilder()
                  .setKey(0, keyset.getKey(0).toBuilder().setOutputPrefixType(OutputPrefixType.LEGACY))
                  .build();
          handle = handle(keyset);
          if (n % 2 == 0) {
            keysetFile = name + ".json";
            file(keysetFile, legacyJson(keyset));
          } else {
            keysetFile = name + ".bin";
            file(keysetFile, legacyBinary(keyset));
          }
        } else {
          switch (n % 4) {
            case 0:
              keysetFile = name + ".json";
              file(keysetFile, TinkJsonProtoKeysetFormat.serializeKeyset(handle, InsecureSecretKeyAccess.get()));
              break;
            case 1:
              keysetFile = name + ".json";
              ByteArrayOutputStream json = new ByteArrayOutputStream();
              CleartextKeysetHandle.write(handle, JsonKeysetWriter.withOutputStream(json));
              file(keysetFile, json.toByteArray());
              break;
            case 2:
              keysetFile = name + ".bin";
              file(keysetFile, TinkProtoKeysetFormat.serializeKeyset(handle, InsecureSecretKeyAccess.get()));
              break;
            default:
              keysetFile = name + ".bin";
              ByteArrayOutputStream bin = new ByteArrayOutputStream();
              CleartextKeysetHandle.write(handle, BinaryKeysetWriter.withOutputStream(bin));
              file(keysetFile, bin.toByteArray());
          }
        }
        n++;
        byte[] pt = plaintext(name);
        String aad = aadHex(name);
        file(name + ".pt", pt);
        file(name + ".ct", aead(handle).encrypt(pt, aadBytes(aad)));
        manifest.add(String.join(" ", "keys", keysetFile, listing(handle)));
        manifest.add(String.join(" ", "aead", keysetFile, name + ".ct", aad, name + ".pt"));
        if (prefix.equals("tink")) {
          // The same keyset as the KEK of KmsEnvelopeAead, with every data-key template.
          for (String dek : DEKS) {
            String env = "env-" + template + "-" + dek;
            byte[] envPt = plaintext(env);
            String envAad = aadHex(env);
            file(env + ".pt", envPt);
            file(env + ".ct", KmsEnvelopeAead.create(dekParameters(dek), aead(handle)).encrypt(envPt, aadBytes(envAad)));
            manifest.add(String.join(" ", "envelope", keysetFile, dek, env + ".ct", envAad, env + ".pt"));
          }
        }
      }
    }
    writeManaged(masterAead);
    writeDuplicates();
    writeRefusedByTink(master);
  }

  /** A keyset managed by KeysetManager: keys added, promoted, disabled, destroyed. */
  private void writeManaged(Aead masterAead) throws Exception {
    KeysetHandle start = KeysetHandle.generateNew(aeadParameters("aes256-gcm", "tink"));
    KeysetManager manager = KeysetManager.withKeysetHandle(start);
    List<Integer> ids = new ArrayList<>();
    ids.add(start.getPrimary().getId());
    for (String[] t :
        new String[][] {
          {"aes256-gcm-siv", "tink"},
          {"chacha20-poly1305", "raw"},
          {"xchacha20-poly1305", "tink"},
          {"aes128-eax", "crunchy"},
          {"aes256-ctr-hmac-sha256", "tink"},
        }) {
      ids.add(
          manager.addNewKey(
              com.google.crypto.tink.proto.KeyTemplate.parseFrom(
                  TinkProtoParametersFormat.serialize(aeadParameters(t[0], t[1])),
                  ExtensionRegistryLite.getEmptyRegistry()),
              false));
    }
    // A ciphertext of each key, made while it was primary.
    for (int keyId : ids) {
      manager.setPrimary(keyId);
      String name = "mgmt-" + id(keyId);
      byte[] pt = plaintext(name);
      file(name + ".pt", pt);
      file(name + ".ct", aead(manager.getKeysetHandle()).encrypt(pt, aadBytes(aadHex(name))));
    }
    manager.setPrimary(ids.get(1));
    manager.disable(ids.get(2));
    manager.destroy(ids.get(3));
    KeysetHandle managed = manager.getKeysetHandle();
    String mgmtAad = HEX.formatHex("master aad".getBytes(StandardCharsets.UTF_8));

    ByteArrayOutputStream legacyJson = new ByteArrayOutputStream();
    CleartextKeysetHandle.write(managed, JsonKeysetWriter.withOutputStream(legacyJson));
    file("mgmt-legacy.json", legacyJson.toByteArray());
    ByteArrayOutputStream legacyBin = new ByteArrayOutputStream();
    CleartextKeysetHandle.write(managed, BinaryKeysetWriter.withOutputStream(legacyBin));
    file("mgmt-legacy.bin", legacyBin.toByteArray());
    file("mgmt.json", TinkJsonProtoKeysetFormat.serializeKeyset(managed, InsecureSecretKeyAccess.get()));
    file("mgmt.bin", TinkProtoKeysetFormat.serializeKeyset(managed, InsecureSecretKeyAccess.get()));
    file("mgmt-enc.json", TinkJsonProtoKeysetFormat.serializeEncryptedKeyset(managed, masterAead, aadBytes(mgmtAad)));
    file("mgmt-enc.bin", TinkProtoKeysetFormat.serializeEncryptedKeyset(managed, masterAead, aadBytes(mgmtAad)));
    ByteArrayOutputStream legacyEnc = new ByteArrayOutputStream();
    managed.writeWithAssociatedData(JsonKeysetWriter.withOutputStream(legacyEnc), masterAead, new byte[0]);
    file("mgmt-legacy-enc.json", legacyEnc.toByteArray());

    // Tink Java cannot read back the JSON it writes for a destroyed key (its reader refuses
    // keyMaterialType UNKNOWN_KEYMATERIAL): noted, the tool reads it and writes what Tink reads.
    try {
      TinkJsonProtoKeysetFormat.parseKeyset(
          new String(Files.readAllBytes(out.resolve("mgmt.json")), StandardCharsets.UTF_8),
          InsecureSecretKeyAccess.get());
      System.out.println("tink-java: note: Tink Java reads its own JSON of a destroyed key");
    } catch (GeneralSecurityException e) {
      System.out.println(
          "tink-java: note: Tink Java refuses its own JSON of a destroyed key (" + e.getMessage() + ")");
    }

    String listing = listing(managed);
    for (String spec :
        new String[] {
          "mgmt-legacy.json",
          "mgmt-legacy.bin",
          "mgmt.json",
          "mgmt.bin",
          "mgmt-enc.json@master.json@" + mgmtAad,
          "mgmt-enc.bin@master.json@" + mgmtAad,
          "mgmt-legacy-enc.json@master.json@-",
        }) {
      manifest.add(String.join(" ", "keys", spec, listing));
      for (int i = 0; i < ids.size(); i++) {
        String name = "mgmt-" + id(ids.get(i));
        if (i == 2 || i == 3) {
          manifest.add(String.join(" ", "refused", spec, name + ".ct", aadHex(name)));
        } else {
          manifest.add(String.join(" ", "aead", spec, name + ".ct", aadHex(name), name + ".pt"));
        }
      }
    }
    manifest.add("managed-ids " + id(ids.get(0)) + " " + id(ids.get(1)) + " " + id(ids.get(2))
        + " " + id(ids.get(3)) + " " + id(ids.get(4)));
  }

  /** Keysets in which non-primary keys share an id, as Tink accepts them. */
  private void writeDuplicates() throws Exception {
    Keyset.Key primary = proto(KeysetHandle.generateNew(aeadParameters("aes256-gcm-siv", "tink"))).getKey(0);
    int dupId = RANDOM.nextInt() | 1;
    Keyset.Key first =
        proto(KeysetHandle.generateNew(aeadParameters("aes128-gcm", "tink"))).getKey(0).toBuilder().setKeyId(dupId).build();
    Keyset.Key second =
        proto(KeysetHandle.generateNew(aeadParameters("chacha20-poly1305", "tink"))).getKey(0).toBuilder().setKeyId(dupId).build();
    Keyset.Key third =
        proto(KeysetHandle.generateNew(aeadParameters("aes256-eax", "tink"))).getKey(0).toBuilder().setKeyId(dupId).build();
    // A ciphertext by each duplicate key, made by a keyset in which it alone has that id.
    Keyset.Key[] dups = {first, second, third};
    for (int i = 0; i < dups.length; i++) {
      Keyset alone = Keyset.newBuilder().setPrimaryKeyId(dupId).addKey(dups[i]).build();
      String name = "dup-" + i;
      byte[] pt = plaintext(name);
      file(name + ".pt", pt);
      file(name + ".ct", aead(handle(alone)).encrypt(pt, aadBytes(aadHex(name))));
    }
    Keyset.Key thirdDestroyed =
        third.toBuilder()
            .setStatus(KeyStatusType.DESTROYED)
            .setKeyData(KeyData.newBuilder().setKeyMaterialType(KeyData.KeyMaterialType.SYMMETRIC))
            .build();
    Keyset dupKeyset =
        Keyset.newBuilder()
            .setPrimaryKeyId(primary.getKeyId())
            .addKey(primary)
            .addKey(first)
            .addKey(second)
            .addKey(thirdDestroyed)
            .build();
    // The same with the primary's id shared by a DISABLED key after it (Tink accepts it).
    Keyset sharedPrimary =
        dupKeyset.toBuilder()
            .addKey(third.toBuilder().setKeyId(primary.getKeyId()).setStatus(KeyStatusType.DISABLED))
            .build();
    file("dup.json", legacyJson(dupKeyset));
    file("dup.bin", legacyBinary(dupKeyset));
    file("dup-primary.json", legacyJson(sharedPrimary));
    for (String file : new String[] {"dup.json", "dup.bin", "dup-primary.json"}) {
      KeysetHandle handle = handle(file.equals("dup-primary.json") ? sharedPrimary : dupKeyset);
      Aead a = aead(handle); // Tink Java accepts them
      manifest.add(String.join(" ", "keys", file, listing(handle)));
      for (int i = 0; i < 3; i++) {
        String name = "dup-" + i;
        String line = i < 2 ? "aead" : "refused";
        // Tink Java itself decrypts the first two, not the destroyed third.
        boolean opened;
        try {
          a.decrypt(Files.readAllBytes(out.resolve(name + ".ct")), aadBytes(aadHex(name)));
          opened = true;
        } catch (GeneralSecurityException e) {
          opened = false;
        }
        if (opened == (i < 2)) {
          pass("java: duplicate ids");
        } else {
          fail("java: duplicate ids", file + " " + name);
        }
        manifest.add(
            String.join(" ", line, file, name + ".ct", aadHex(name))
                + (i < 2 ? " " + name + ".pt" : ""));
      }
      manifest.add(String.join(" ", "ambiguous", file, id(dupId)));
    }
  }

  /** What Tink Java refuses, and the tool must refuse too (or name, when it keeps it). */
  private void writeRefusedByTink(KeysetHandle kekHandle) throws Exception {
    // Two ENABLED keys share the primary's id.
    Keyset.Key a = proto(KeysetHandle.generateNew(aeadParameters("aes256-gcm", "tink"))).getKey(0);
    Keyset.Key b =
        proto(KeysetHandle.generateNew(aeadParameters("aes128-gcm", "tink"))).getKey(0).toBuilder().setKeyId(a.getKeyId()).build();
    Keyset twoPrimaries = Keyset.newBuilder().setPrimaryKeyId(a.getKeyId()).addKey(a).addKey(b).build();
    javaRefuses("two enabled primaries", () -> aead(handle(twoPrimaries)));
    file("two-primaries.json", legacyJson(twoPrimaries));
    manifest.add("invalid two-primaries.json " + id(a.getKeyId()));

    // A data key of version 1 wrapped by the KEK: KmsEnvelopeAead refuses it.
    Aead kek = aead(kekHandle);
    byte[] key = new byte[32];
    RANDOM.nextBytes(key);
    com.google.crypto.tink.proto.AesGcmSivKey dek =
        com.google.crypto.tink.proto.AesGcmSivKey.newBuilder()
            .setVersion(1)
            .setKeyValue(ByteString.copyFrom(key))
            .build();
    com.google.crypto.tink.proto.AesGcmSivKey dek0 = dek.toBuilder().setVersion(0).build();
    byte[] wrapped = kek.encrypt(dek.toByteArray(), new byte[0]);
    // The payload made by the same key as a version-0 data key would make it.
    byte[] payload =
        aead(handle(Keyset.newBuilder()
            .setPrimaryKeyId(1)
            .addKey(Keyset.Key.newBuilder()
                .setKeyId(1)
                .setStatus(KeyStatusType.ENABLED)
                .setOutputPrefixType(OutputPrefixType.RAW)
                .setKeyData(KeyData.newBuilder()
                    .setTypeUrl("type.googleapis.com/google.crypto.tink.AesGcmSivKey")
                    .setValue(dek0.toByteString())
                    .setKeyMaterialType(KeyData.KeyMaterialType.SYMMETRIC)))
            .build()))
            .encrypt(plaintext("dek v1"), aadBytes(aadHex("dek v1")));
    byte[] envelope =
        ByteBuffer.allocate(4 + wrapped.length + payload.length)
            .putInt(wrapped.length)
            .put(wrapped)
            .put(payload)
            .array();
    javaRefuses(
        "data key of version 1",
        () -> KmsEnvelopeAead.create(dekParameters("aes256-gcm-siv"), kek).decrypt(envelope, aadBytes(aadHex("dek v1"))));
    file("dek-v1.ct", envelope);
    manifest.add("invalid-envelope master.json dek-v1.ct " + aadHex("dek v1") + " version");

    // A keyset mixing an AEAD key and a MAC key (a type no AEAD uses): Tink Java refuses the
    // whole keyset as an AEAD; the tool keeps the key, decrypts with the others and names it.
    KeysetHandle mac = KeysetHandle.generateNew(PredefinedMacParameters.HMAC_SHA256_128BITTAG);
    Keyset.Key macKey = proto(mac).getKey(0);
    KeysetHandle aeadOnly = KeysetHandle.generateNew(aeadParameters("aes256-gcm-siv", "tink"));
    Keyset.Key aeadKey = proto(aeadOnly).getKey(0);
    Keyset mixed = Keyset.newBuilder().setPrimaryKeyId(aeadKey.getKeyId()).addKey(aeadKey).addKey(macKey).build();
    Keyset macPrimary = mixed.toBuilder().setPrimaryKeyId(macKey.getKeyId()).build();
    javaRefuses("an ENABLED MAC key in an AEAD keyset", () -> aead(handle(mixed)));
    javaRefuses("a MAC primary in an AEAD keyset", () -> aead(handle(macPrimary)));
    file("mixed.json", legacyJson(mixed));
    file("mac-primary.json", legacyJson(macPrimary));
    byte[] pt = plaintext("mixed");
    file("mixed.pt", pt);
    file("mixed.ct", aead(aeadOnly).encrypt(pt, aadBytes(aadHex("mixed"))));
    // What the MAC key's prefix leads: the tool cannot tell it from a ciphertext of that key.
    byte[] fake = new byte[5 + 40];
    RANDOM.nextBytes(fake);
    fake[0] = 1;
    ByteBuffer.wrap(fake, 1, 4).putInt(macKey.getKeyId());
    file("mixed-mac.ct", fake);
    for (String spec : new String[] {"mixed.json", "mac-primary.json"}) {
      manifest.add("aead " + spec + " mixed.ct " + aadHex("mixed") + " mixed.pt");
      manifest.add("unsupported " + spec + " mixed-mac.ct " + aadHex("mixed") + " " + id(macKey.getKeyId()));
    }
    manifest.add("unsupported-primary mac-primary.json " + id(macKey.getKeyId()));
  }

  private interface Action {
    void run() throws Exception;
  }

  private void javaRefuses(String what, Action action) {
    try {
      action.run();
      fail("java refuses", what + " was accepted");
    } catch (Exception e) {
      pass("java refuses");
      System.out.println("tink-java: Tink Java refuses " + what + ": " + e.getMessage());
    }
  }

  // --------------------------------------------------------------- check phase

  private Path base;

  /** The keyset a manifest names, read by both of Tink's APIs; null if either refuses it. */
  private KeysetHandle[] read(String spec) {
    String[] parts = spec.split("@");
    try {
      byte[] bytes = Files.readAllBytes(base.resolve(parts[0]));
      boolean json = bytes.length > 0 && bytes[0] == '{';
      String text = new String(bytes, StandardCharsets.UTF_8);
      if (parts.length == 1) {
        KeysetHandle modern =
            json
                ? TinkJsonProtoKeysetFormat.parseKeyset(text, InsecureSecretKeyAccess.get())
                : TinkProtoKeysetFormat.parseKeyset(bytes, InsecureSecretKeyAccess.get());
        KeysetHandle legacy =
            CleartextKeysetHandle.read(
                json ? JsonKeysetReader.withString(text) : BinaryKeysetReader.withBytes(bytes));
        return new KeysetHandle[] {modern, legacy};
      }
      KeysetHandle master =
          TinkJsonProtoKeysetFormat.parseKeyset(
              new String(Files.readAllBytes(base.resolve(parts[1])), StandardCharsets.UTF_8),
              InsecureSecretKeyAccess.get());
      Aead masterAead = aead(master);
      byte[] aad = aadBytes(parts[2]);
      KeysetHandle modern =
          json
              ? TinkJsonProtoKeysetFormat.parseEncryptedKeyset(text, masterAead, aad)
              : TinkProtoKeysetFormat.parseEncryptedKeyset(bytes, masterAead, aad);
      KeysetHandle legacy =
          KeysetHandle.readWithAssociatedData(
              json ? JsonKeysetReader.withString(text) : BinaryKeysetReader.withBytes(bytes),
              masterAead,
              aad);
      return new KeysetHandle[] {modern, legacy};
    } catch (Exception e) {
      fail("read keyset", spec + ": " + e);
      return null;
    }
  }

  private void checkManifest(Path manifestPath) throws Exception {
    base = manifestPath.getParent();
    Files.createDirectories(out);
    int made = 0;
    for (String line : Files.readAllLines(manifestPath, StandardCharsets.UTF_8)) {
      String[] f = line.split(" ");
      if (f.length == 0 || f[0].isEmpty() || f[0].startsWith("#")) {
        continue;
      }
      switch (f[0]) {
        case "keys":
          {
            KeysetHandle[] handles = read(f[1]);
            if (handles == null) {
              break;
            }
            for (KeysetHandle h : handles) {
              String got = listing(h);
              // Tink Java's key objects hold LEGACY and CRUNCHY AEAD keys (the same
              // 0x00 prefix) as one variant: it lists LEGACY keys as CRUNCHY.
              if (got.replace("LEGACY", "CRUNCHY").equals(f[2].replace("LEGACY", "CRUNCHY"))) {
                pass("keys");
              } else {
                fail("keys", f[1] + ": Tink Java lists " + got + ", the tool " + f[2]);
              }
              try {
                aead(h);
                pass("aead primitive");
              } catch (GeneralSecurityException e) {
                fail("aead primitive", f[1] + ": " + e.getMessage());
              }
            }
            // Tink Java encrypts with the primary it reads: the tool must decrypt it.
            try {
              String name = "java-" + (made++);
              byte[] pt = plaintext(name + " " + f[1]);
              String aad = aadHex(name);
              Files.write(out.resolve(name + ".pt"), pt);
              Files.write(out.resolve(name + ".ct"), aead(handles[0]).encrypt(pt, aadBytes(aad)));
              manifest.add(String.join(" ", "aead", relative(f[1]), name + ".ct", aad, name + ".pt"));
            } catch (GeneralSecurityException e) {
              fail("encrypt", f[1] + ": " + e.getMessage());
            }
            break;
          }
        case "aead":
        case "refused":
          {
            KeysetHandle[] handles = read(f[1]);
            if (handles == null) {
              break;
            }
            byte[] ct = Files.readAllBytes(base.resolve(f[2]));
            byte[] aad = aadBytes(f[3]);
            for (KeysetHandle h : handles) {
              byte[] got;
              try {
                got = aead(h).decrypt(ct, aad);
              } catch (GeneralSecurityException e) {
                got = null;
              }
              if (f[0].equals("refused")) {
                if (got == null) {
                  pass("refused");
                } else {
                  fail("refused", f[1] + " " + f[2] + " decrypted");
                }
                continue;
              }
              if (got != null && Arrays.equals(got, Files.readAllBytes(base.resolve(f[4])))) {
                pass("decrypt");
              } else {
                fail("decrypt", f[1] + " " + f[2] + (got == null ? " refused" : " gave other bytes"));
              }
              try {
                aead(h).decrypt(ct, "other".getBytes(StandardCharsets.UTF_8));
                fail("wrong aad refused", f[1] + " " + f[2]);
              } catch (GeneralSecurityException e) {
                pass("wrong aad refused");
              }
            }
            break;
          }
        case "envelope":
          {
            KeysetHandle[] handles = read(f[1]);
            if (handles == null) {
              break;
            }
            Aead envelope = KmsEnvelopeAead.create(dekParameters(f[2]), aead(handles[0]));
            byte[] ct = Files.readAllBytes(base.resolve(f[3]));
            try {
              byte[] got = envelope.decrypt(ct, aadBytes(f[4]));
              if (Arrays.equals(got, Files.readAllBytes(base.resolve(f[5])))) {
                pass("envelope decrypt");
              } else {
                fail("envelope decrypt", f[3] + " gave other bytes");
              }
            } catch (GeneralSecurityException e) {
              fail("envelope decrypt", f[3] + ": " + e.getMessage());
            }
            try {
              envelope.decrypt(ct, "other".getBytes(StandardCharsets.UTF_8));
              fail("envelope wrong aad", f[3]);
            } catch (GeneralSecurityException e) {
              pass("envelope wrong aad");
            }
            // And one the other way: Tink Java's envelope of the same keyset and template.
            String name = "java-" + (made++);
            byte[] pt = plaintext(name);
            String aad = aadHex(name);
            Files.write(out.resolve(name + ".pt"), pt);
            Files.write(out.resolve(name + ".ct"), envelope.encrypt(pt, aadBytes(aad)));
            manifest.add(String.join(" ", "envelope", relative(f[1]), f[2], name + ".ct", aad, name + ".pt"));
            break;
          }
        default:
          fail("manifest", "unknown line: " + line);
      }
    }
  }

  /** A keyset spec of the input manifest, relative to the output directory. */
  private String relative(String spec) {
    String[] parts = spec.split("@");
    for (int i = 0; i < parts.length && i < 2; i++) {
      parts[i] = out.toAbsolutePath().relativize(base.resolve(parts[i]).toAbsolutePath()).toString();
    }
    return String.join("@", parts);
  }
}
