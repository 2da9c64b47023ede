package enrich

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// urlTemplate is Config.URL split into literal text and {field} placeholders,
// parsed once so that expanding it per record is a few appends.
type urlTemplate struct {
	parts []templatePart
	plain bool // no placeholders: expand returns the URL as it is
	raw   string
}

// templatePart is either literal text or, when field is set, a placeholder.
type templatePart struct {
	text  string
	field string
}

// parseTemplate splits raw into parts and checks that the URL it yields is
// an absolute http(s) URL whatever the fields are.
func parseTemplate(raw string) (*urlTemplate, error) {
	if raw == "" {
		return nil, errors.New("required")
	}
	t := &urlTemplate{raw: raw}
	rest := raw
	for rest != "" {
		open := strings.IndexAny(rest, "{}")
		if open < 0 {
			t.parts = append(t.parts, templatePart{text: rest})
			break
		}
		if rest[open] == '}' {
			return nil, fmt.Errorf("unmatched '}' in %q", raw)
		}
		end := strings.IndexAny(rest[open+1:], "{}")
		if end < 0 || rest[open+1+end] != '}' {
			return nil, fmt.Errorf("unclosed '{' in %q", raw)
		}
		name := rest[open+1 : open+1+end]
		if name == "" {
			return nil, fmt.Errorf("empty placeholder {} in %q", raw)
		}
		if open > 0 {
			t.parts = append(t.parts, templatePart{text: rest[:open]})
		}
		t.parts = append(t.parts, templatePart{field: name})
		rest = rest[open+1+end+1:]
	}
	t.plain = len(t.parts) == 1 && t.parts[0].field == ""

	// Check the shape with every placeholder replaced by a harmless value.
	var probe strings.Builder
	for _, p := range t.parts {
		if p.field != "" {
			probe.WriteString("x")
		} else {
			probe.WriteString(p.text)
		}
	}
	u, err := url.Parse(probe.String())
	if err != nil {
		return nil, fmt.Errorf("invalid URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("scheme must be http or https, got %q", u.Scheme)
	}
	if u.Host == "" {
		return nil, errors.New("missing host")
	}
	return t, nil
}

// expand substitutes the placeholders from fields. A missing, null or
// non-scalar field is a *Error of ClassBadInput.
func (t *urlTemplate) expand(fields map[string]any) (string, error) {
	if t.plain {
		return t.raw, nil
	}
	var b strings.Builder
	for _, p := range t.parts {
		if p.field == "" {
			b.WriteString(p.text)
			continue
		}
		v, ok := fields[p.field]
		if !ok || v == nil {
			return "", &Error{Class: ClassBadInput, Err: fmt.Errorf("URL placeholder {%s}: field missing or null", p.field)}
		}
		s, err := scalarString(v)
		if err != nil {
			return "", &Error{Class: ClassBadInput, Err: fmt.Errorf("URL placeholder {%s}: %w", p.field, err)}
		}
		if s == "" {
			return "", &Error{Class: ClassBadInput, Err: fmt.Errorf("URL placeholder {%s}: field is empty", p.field)}
		}
		b.WriteString(url.PathEscape(s))
	}
	return b.String(), nil
}

// scalarString formats a decoded JSON scalar for a URL. Numbers are written
// without exponent, so that an id decoded as float64 (12345678) does not
// become "1.2345678e+07".
func scalarString(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case json.Number:
		return x.String(), nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case float32:
		return strconv.FormatFloat(float64(x), 'f', -1, 32), nil
	case int:
		return strconv.Itoa(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case int32:
		return strconv.FormatInt(int64(x), 10), nil
	case uint64:
		return strconv.FormatUint(x, 10), nil
	case bool:
		return strconv.FormatBool(x), nil
	default:
		return "", fmt.Errorf("field of type %T is not a scalar", v)
	}
}
