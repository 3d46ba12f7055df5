// Command chacha20 prints ChaCha20-Poly1305 vectors made by the official Tink
// Go (Tink Python, built on Tink C++, has no ChaCha20Poly1305Key manager):
// one keyset per output prefix in Tink's cleartext JSON, and ciphertexts of
// the plaintexts and associated data generate.py uses. generate.py runs it
// and merges its output; the keys are test keys made for the vector file.
// `chacha20 decrypt` is the other direction, for check_tool.py.
package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"strings"

	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/insecurecleartextkeyset"
	"github.com/tink-crypto/tink-go/v2/keyset"
	tinkpb "github.com/tink-crypto/tink-go/v2/proto/tink_go_proto"
)

type vector struct {
	PlaintextHex  string `json:"plaintext_hex"`
	AadHex        string `json:"aad_hex"`
	CiphertextHex string `json:"ciphertext_hex"`
}

type set struct {
	Name             string   `json:"name"`
	TypeURL          string   `json:"type_url"`
	OutputPrefixType string   `json:"output_prefix_type"`
	TemplateValueHex string   `json:"template_value_hex"`
	PrimaryKeyID     uint32   `json:"primary_key_id"`
	KeysetJSON       string   `json:"keyset_json"`
	Note             string   `json:"note,omitempty"`
	Vectors          []vector `json:"vectors"`
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// decrypt reads {"keyset_json", "cases": [{plaintext_hex, aad_hex,
// ciphertext_hex}]} and exits non-zero unless Tink Go decrypts every case to
// its plaintext and refuses it with other associated data (check_tool.py).
func decrypt() {
	var input struct {
		KeysetJSON string   `json:"keyset_json"`
		Cases      []vector `json:"cases"`
	}
	must(json.NewDecoder(os.Stdin).Decode(&input))
	handle, err := insecurecleartextkeyset.Read(keyset.NewJSONReader(strings.NewReader(input.KeysetJSON)))
	must(err)
	primitive, err := aead.New(handle)
	must(err)
	for _, c := range input.Cases {
		ct, err := hex.DecodeString(c.CiphertextHex)
		must(err)
		ad, err := hex.DecodeString(c.AadHex)
		must(err)
		pt, err := primitive.Decrypt(ct, ad)
		must(err)
		if hex.EncodeToString(pt) != c.PlaintextHex {
			panic("Tink Go decrypted something else")
		}
		if _, err := primitive.Decrypt(ct, append(ad, '!')); err == nil {
			panic("Tink Go accepted other associated data")
		}
	}
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "decrypt" {
		decrypt()
		return
	}
	var input struct {
		Plaintexts []string `json:"plaintexts_hex"`
		Aads       []string `json:"aads_hex"`
	}
	must(json.NewDecoder(os.Stdin).Decode(&input))
	prefixes := []struct {
		name string
		t    tinkpb.OutputPrefixType
	}{
		{"TINK", tinkpb.OutputPrefixType_TINK},
		{"LEGACY", tinkpb.OutputPrefixType_LEGACY},
		{"CRUNCHY", tinkpb.OutputPrefixType_CRUNCHY},
		{"RAW", tinkpb.OutputPrefixType_RAW},
	}
	var sets []set
	for _, p := range prefixes {
		template := aead.ChaCha20Poly1305KeyTemplate()
		template.OutputPrefixType = p.t
		handle, err := keyset.NewHandle(template)
		must(err)
		primitive, err := aead.New(handle)
		must(err)
		var buf bytes.Buffer
		must(insecurecleartextkeyset.Write(handle, keyset.NewJSONWriter(&buf)))
		keysetJSON := buf.String()
		note := ""
		if p.t == tinkpb.OutputPrefixType_LEGACY {
			// Tink Go's ChaCha20-Poly1305 parameters know TINK, CRUNCHY
			// and RAW only: a LEGACY template (or key) becomes CRUNCHY.
			// For an AEAD both make the same prefix (0x00 || key id), so
			// the ciphertexts are those of a LEGACY key; only the keyset's
			// prefix type is rewritten here.
			keysetJSON = strings.Replace(keysetJSON, `"outputPrefixType":"CRUNCHY"`, `"outputPrefixType":"LEGACY"`, 1)
			note = "made by Tink Go as CRUNCHY (Tink Go has no LEGACY ChaCha20-Poly1305); outputPrefixType rewritten to LEGACY, same prefix bytes"
		}
		s := set{
			Name:             "chacha20_poly1305_" + map[string]string{"TINK": "tink", "LEGACY": "legacy", "CRUNCHY": "crunchy", "RAW": "raw"}[p.name],
			TypeURL:          template.TypeUrl,
			OutputPrefixType: p.name,
			TemplateValueHex: hex.EncodeToString(template.Value),
			PrimaryKeyID:     handle.KeysetInfo().PrimaryKeyId,
			KeysetJSON:       keysetJSON,
			Note:             note,
		}
		for _, pth := range input.Plaintexts {
			for _, adh := range input.Aads {
				pt, err := hex.DecodeString(pth)
				must(err)
				ad, err := hex.DecodeString(adh)
				must(err)
				ct, err := primitive.Encrypt(pt, ad)
				must(err)
				s.Vectors = append(s.Vectors, vector{pth, adh, hex.EncodeToString(ct)})
			}
		}
		sets = append(sets, s)
	}
	must(json.NewEncoder(os.Stdout).Encode(sets))
}
