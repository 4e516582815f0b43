package idcard

import (
	"golang.org/x/text/language"
	"golang.org/x/text/language/display"
)

// GenderName returns the GB/T 2261.1 gender code's name in Chinese (lang
// "zh...") or English; unknown codes are returned as they are.
func GenderName(code, lang string) string {
	zh := map[string]string{"0": "未知", "1": "男", "2": "女", "9": "未说明"}
	en := map[string]string{"0": "unknown", "1": "male", "2": "female", "9": "unspecified"}
	m := en
	if isZH(lang) {
		m = zh
	}
	if n, ok := m[code]; ok {
		return n
	}
	return code
}

// ethnic is GB 3304 (族 omitted), codes 01–56 as all sources agree, plus 97
// and 98 as in the majority of sources (reference §7, §14).
var ethnic = map[string]string{
	"01": "汉", "02": "蒙古", "03": "回", "04": "藏", "05": "维吾尔", "06": "苗", "07": "彝", "08": "壮",
	"09": "布依", "10": "朝鲜", "11": "满", "12": "侗", "13": "瑶", "14": "白", "15": "土家", "16": "哈尼",
	"17": "哈萨克", "18": "傣", "19": "黎", "20": "傈僳", "21": "佤", "22": "畲", "23": "高山", "24": "拉祜",
	"25": "水", "26": "东乡", "27": "纳西", "28": "景颇", "29": "柯尔克孜", "30": "土", "31": "达斡尔", "32": "仫佬",
	"33": "羌", "34": "布朗", "35": "撒拉", "36": "毛南", "37": "仡佬", "38": "锡伯", "39": "阿昌", "40": "普米",
	"41": "塔吉克", "42": "怒", "43": "乌孜别克", "44": "俄罗斯", "45": "鄂温克", "46": "德昂", "47": "保安", "48": "裕固",
	"49": "京", "50": "塔塔尔", "51": "独龙", "52": "鄂伦春", "53": "赫哲", "54": "门巴", "55": "珞巴", "56": "基诺",
	"97": "其他", "98": "外国血统中国籍人士",
}

// EthnicName returns the Chinese name of a GB 3304 ethnic-group code
// (without 族); unknown codes are returned raw, as the reference advises.
func EthnicName(code string) string {
	if n, ok := ethnic[code]; ok {
		return n
	}
	return code
}

// NationalityName returns the name of a GB/T 2659 (ISO 3166-1 alpha-3)
// country code in Chinese (lang "zh...") or English, from the CLDR tables of
// golang.org/x/text; unknown codes are returned as they are.
func NationalityName(code, lang string) string {
	r, err := language.ParseRegion(code)
	if err != nil || len(code) != 3 || r.ISO3() != code || !r.IsCountry() {
		return code
	}
	n := display.English.Regions()
	if isZH(lang) {
		n = display.Chinese.Regions()
	}
	if s := n.Name(r); s != "" {
		return s
	}
	return code
}

func isZH(lang string) bool { return len(lang) >= 2 && lang[:2] == "zh" }
