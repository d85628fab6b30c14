// The list of shipped scenario files names every file in scenarios/.

package scenario

import (
	"os"
	"slices"
	"testing"
)

func TestEveryFileIsShipped(t *testing.T) {
	ents, err := os.ReadDir("scenarios")
	if err != nil {
		t.Fatal(err)
	}
	var onDisk, listed []string
	for _, e := range ents {
		onDisk = append(onDisk, e.Name())
	}
	for i, f := range files {
		listed = append(listed, f.name)
		b, err := os.ReadFile("scenarios/" + f.name)
		if err != nil || string(b) != string(f.data) {
			t.Errorf("files[%d] %s does not hold that file's contents (%v)", i, f.name, err)
		}
	}
	if !slices.Equal(onDisk, listed) {
		t.Errorf("scenarios/ holds %v; scenario.go ships %v: add the new file to the list of embedded files", onDisk, listed)
	}
}
