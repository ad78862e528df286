"""KB search: latency over 50,000 generated articles and top-3 hit rate on a labelled paraphrase set.

The corpus is generated from templates (10 topics × 8 service items × 32 Foshan towns × 6 aspects × 4
audiences, sampled to 50,000), stored in a real migrated SQLite database and loaded by `KnowledgeBase` the
way a console worker loads it. The labelled set: 100 queries, each paraphrasing one specific article the
way callers speak (colloquial words, synonyms, town names without 街道/镇), labelled with that article.

Latency is measured in ROUNDS alternating rounds (the machine is shared): each round runs the 1,000 latency
queries back to back (wall and CPU time of the searching thread), the same queries paced at PACED_RATE per
second (latency counted from each query's scheduled start, so a late wake-up counts), 300 of them filtered
by one unit, all of them again without the query-analysis cache, 300 screen pops without text, 120 queries
of frequent words only (district + audience + aspect), and a fifth of the labelled queries through both
baselines. The headline figures are the best round's; the median (and
for the main figure the worst) round's are beside them. Then the freshness: an article changed through the
services, the time until this process's queries serve it (background check), and a direct refresh.

Compared in the same run:
- naive baseline: SQL LIKE scan, one bound `%term%` per jieba term, title matches weighted 3, top 3;
- rank-bm25 (BM25Okapi over the same analyzer's search-mode terms, title repeated twice) when installed.
Target: p99 ≤ 10 ms for our index.
"""

from __future__ import annotations

import gc
import os
import random
import statistics
import tempfile
import time
from itertools import product
from pathlib import Path

import numpy as np
from sqlalchemy import insert, text, update

from bench.common import percentile, write_results
from hotline.db import make_engine, make_session_factory, upgrade_to_head
from hotline.kb import services
from hotline.kb.analyzer import STOP_WORDS, Analyzer
from hotline.kb.index import IndexedArticle, SearchIndex
from hotline.kb.models import KbArticle, KbState
from hotline.kb.search import KnowledgeBase

N_ARTICLES = int(os.environ.get("KB_BENCH_ARTICLES", "50000"))
N_LABELLED = 100
N_LATENCY_QUERIES = 1000
SEED = 12345
ROUNDS = 5
PACED_RATE = 200.0  # queries per second in the paced pass: about a busy hall's searches and screen pops

TOWNS = {
    "禅城区": ["祖庙街道", "石湾镇街道", "张槎街道", "南庄镇"],
    "南海区": ["桂城街道", "九江镇", "西樵镇", "丹灶镇", "狮山镇", "大沥镇", "里水镇"],
    "顺德区": ["大良街道", "容桂街道", "伦教街道", "勒流街道", "陈村镇", "均安镇", "杏坛镇", "龙江镇", "乐从镇",
             "北滘镇"],
    "高明区": ["荷城街道", "杨和镇", "明城镇", "更合镇"],
    "三水区": ["西南街道", "云东海街道", "白坭镇", "乐平镇", "芦苞镇", "大塘镇", "南山镇"],
}
DISTRICT_CODES = {"禅城区": "cc", "南海区": "nh", "顺德区": "sd", "高明区": "gm", "三水区": "ss"}

# topic -> (agency, unit suffix, [(item, description, extra material, caller paraphrases)])
TOPICS: dict[str, tuple[str, str, list[tuple[str, str, str, list[str]]]]] = {
    "社保": ("人力资源和社会保障局", "rsj", [
        ("社保卡补办", "社保卡遗失或损坏的可申请挂失补办，补办期间可使用电子社保卡", "一寸证件照",
         ["社会保障卡丢了补领", "社保卡不见了重新办理"]),
        ("灵活就业人员参保登记", "无雇工的个体工商户和灵活就业人员可以个人身份参加企业职工基本养老保险", "就业登记证明",
         ["自由职业者交社保", "打零工的人怎么买社会保险"]),
        ("养老保险关系转移接续", "跨省流动就业的参保人可申请转移养老保险关系，缴费年限累计计算", "参保缴费凭证",
         ["外省交的养老保险转过来", "换城市工作社保转移"]),
        ("失业保险金申领", "非因本人意愿中断就业且缴费满一年的可申领失业保险金", "解除劳动合同证明",
         ["被辞退了领失业金", "失业了能领多少钱失业保险金"]),
        ("退休人员养老金待遇", "达到法定退休年龄且累计缴费满15年的按月领取基本养老金", "退休审批表",
         ["退休金什么时候发", "退休以后每月养老金怎么算"]),
        ("工伤认定申请", "职工发生事故伤害的，用人单位应在30日内提出工伤认定申请", "医疗诊断证明",
         ["上班受伤了算不算工伤", "干活受伤工伤怎么认定"]),
        ("生育津贴申领", "参加生育保险的职工生育后可按规定领取生育津贴", "出生医学证明",
         ["生孩子的生育保险钱怎么领", "产假期间生育保险待遇申请"]),
        ("社保缴费基数调整", "每年7月调整社保缴费基数，以上年度职工月平均工资为依据", "工资表",
         ["社保交费基数变了", "社会保险缴费标准调整"]),
    ]),
    "医保": ("医疗保障局", "ybj", [
        ("异地就医备案", "参保人到外地长期居住或工作可办理异地就医备案，备案后直接结算", "异地居住证明",
         ["医疗保险去外地看病登记", "在外地住院医保报销备案"]),
        ("城乡居民医保参保缴费", "城乡居民基本医疗保险按年度缴费，每年集中征缴期内办理", "户口簿",
         ["居民医疗保险怎么交", "农村医疗保险缴费"]),
        ("门诊特定病种待遇认定", "患有规定慢性病的参保人可申请门诊特定病种待遇", "病历资料",
         ["慢性病门诊医疗保险报销", "长期病看门诊能不能报"]),
        ("医保个人账户家庭共济", "职工医保个人账户可以绑定家庭成员共同使用", "亲属关系证明",
         ["医疗保险账户给家里人用", "医保卡的钱给老婆孩子用"]),
        ("新生儿参保登记", "新生儿出生后可办理城乡居民医保参保登记并享受待遇", "出生医学证明",
         ["刚出生的小孩买医疗保险", "宝宝医保怎么办"]),
        ("医疗费用手工报销", "因特殊原因未能直接结算的医疗费用可申请手工零星报销", "医疗费用发票",
         ["看病的钱自己垫付了怎么报", "住院费医疗保险结算不了"]),
        ("医保电子凭证激活", "医保电子凭证可在微信或支付宝激活，就医购药扫码使用", "手机号码",
         ["手机上的医疗保险码", "电子医保卡用不了"]),
        ("大病保险待遇", "参保人年度内个人负担的合规医疗费用超过起付线的由大病保险报销", "费用清单",
         ["重病医疗保险报销比例", "得了大病医药费能报多少"]),
    ]),
    "公积金": ("住房公积金管理中心", "gjj", [
        ("购房提取", "职工购买自住住房可申请提取住房公积金账户余额", "购房合同",
         ["买房子取住房公积金", "买房能不能把公积金取出来"]),
        ("租房提取", "职工无自有住房且租房居住的可按月或按年提取住房公积金", "租赁合同",
         ["租房子取住房公积金", "交房租用公积金"]),
        ("贷款申请", "缴存职工购买自住住房可申请住房公积金贷款，最高额度按缴存年限确定", "收入证明",
         ["用住房公积金贷款买房", "公积金贷款能贷多少"]),
        ("离职销户提取", "与单位解除劳动关系且户籍不在本市的可申请销户提取", "离职证明",
         ["辞职了把住房公积金全部取出来", "不干了公积金销户"]),
        ("缴存基数调整", "住房公积金缴存基数每年调整一次，不得低于最低工资标准", "工资证明",
         ["住房公积金交多少调整", "公积金缴费标准变了"]),
        ("异地转移接续", "职工跨城市就业可办理住房公积金异地转移接续", "转出地缴存证明",
         ["外地的住房公积金转到佛山", "换城市公积金转移"]),
        ("提前还贷", "住房公积金贷款可申请部分或全部提前还款", "借款合同",
         ["住房公积金贷款提早还完", "公积金房贷提前还款"]),
        ("个人缴存证明打印", "职工可在网上服务厅或窗口打印住房公积金缴存证明", "身份证复印件",
         ["开住房公积金缴存证明", "打印公积金缴纳记录"]),
    ]),
    "户籍": ("公安局", "gaj", [
        ("户口迁入", "符合条件的人员可申请户口迁入，到辖区派出所户籍窗口办理", "房产证明",
         ["户籍迁移到这里", "落户口要什么条件"]),
        ("新生儿入户", "新生儿出生后一个月内凭出生医学证明办理出生登记", "出生医学证明",
         ["刚出生小孩上户籍", "宝宝报户口"]),
        ("身份证换领", "居民身份证有效期满前三个月可申请换领", "旧身份证",
         ["居民身份证到期了换新", "身份证过期换证"]),
        ("居住证办理", "在本市居住半年以上的非户籍人员可申领居住证", "居住登记凭证",
         ["外地人办暂住证", "非本地户籍居住证申请"]),
        ("户口簿补领", "户口簿遗失的户主可申请补领", "户主身份证",
         ["户口本丢了补办", "户籍簿不见了"]),
        ("临时身份证办理", "在申领或换领身份证期间可申请临时居民身份证", "一寸证件照",
         ["急用临时居民身份证", "坐高铁没身份证临时的怎么办"]),
        ("户口注销", "公民死亡或出国定居的应办理户口注销", "死亡证明",
         ["家里老人去世户籍销户", "人去世了户口怎么处理"]),
        ("姓名变更", "未成年人或成年人有正当理由的可申请变更姓名", "变更理由证明",
         ["改名字户籍", "孩子改名户口本"]),
    ]),
    "教育入学": ("教育局", "jyj", [
        ("小学一年级招生", "适龄儿童按户籍和房产情况划分学区就近入学", "户口簿",
         ["孩子读小学报名", "一年级上学学位怎么申请"]),
        ("初中招生", "小学毕业生按学区对口升入初中，民办初中另行报名", "小学学籍证明",
         ["小升初学位", "读初中入学报名"]),
        ("随迁子女积分入学", "非户籍人员随迁子女按积分排名安排公办学位", "居住证",
         ["外地人孩子积分读书", "外来务工子女上学"]),
        ("公办幼儿园招生", "公办幼儿园面向辖区适龄儿童招生，名额不足时摇号", "儿童预防接种证",
         ["孩子上公立托儿所", "公办幼儿园报名摇号"]),
        ("转学办理", "学生因家庭搬迁等原因可申请转学，转入学校有学位的予以接收", "转学申请表",
         ["小孩换学校读书", "搬家了孩子转校"]),
        ("学生资助申请", "家庭经济困难学生可申请国家助学金和生活补助", "困难证明",
         ["家里穷孩子读书补助", "助学金怎么领"]),
        ("校外培训机构投诉", "未经审批开展学科类校外培训的可向教育部门举报", "缴费凭证",
         ["补习班乱收费", "培训机构跑路退费"]),
        ("中考报名", "初中毕业生在规定时间内网上报名参加中考", "学籍信息",
         ["初三中考怎么报名", "考高中报名时间"]),
    ]),
    "停水停电": ("供水供电服务中心", "sdgs", [
        ("计划停水通知", "因管网维修需要计划停水的，提前24小时发布通知", "用水户号",
         ["小区断水了什么时候来水", "今天没水是不是维修"]),
        ("突发停水报修", "发生爆管等突发停水的可拨打供水热线报修，抢修人员及时到场", "停水地址",
         ["水管爆了没水", "突然断水报修"]),
        ("计划停电通知", "因电网检修需要计划停电的，提前7天发布停电公告", "用电户号",
         ["小区断电了什么时候来电", "今天没电是不是检修"]),
        ("故障停电报修", "发生故障停电的可拨打95598报修，抢修人员及时处理", "停电地址",
         ["家里突然停止供电", "整栋楼没电了报修"]),
        ("水费缴纳", "水费可通过银行代扣、网上营业厅或营业网点缴纳", "用水户号",
         ["交水费", "自来水费怎么交"]),
        ("电费缴纳", "电费可通过网上国网、银行代扣或营业厅缴纳", "用电户号",
         ["交电费", "电费在哪里交"]),
        ("水质问题反映", "自来水浑浊或有异味的可向供水企业反映，安排检测", "取水地址",
         ["自来水发黄", "水有味道"]),
        ("用电报装", "新建住宅或商铺可申请用电报装，线上办理不用跑", "产权证明",
         ["新房子装电表", "商铺通电申请"]),
    ]),
    "物业": ("住房和城乡建设局", "zjj", [
        ("物业服务投诉", "业主对物业服务质量不满意的可向属地住建部门投诉", "物业服务合同",
         ["物业公司不管事", "物业服务差投诉"]),
        ("物业费收费标准", "普通住宅物业服务费实行政府指导价，其他实行市场调节价", "收费公示",
         ["物业管理费太贵", "物业公司乱收费"]),
        ("业主大会成立", "符合条件的住宅小区可申请成立业主大会并选举业主委员会", "业主名册",
         ["成立业委会", "小区业主委员会怎么选"]),
        ("住宅专项维修资金使用", "共用部位维修可申请使用住宅专项维修资金", "维修方案",
         ["电梯坏了用维修基金", "小区维修资金怎么申请"]),
        ("电梯故障报修", "小区电梯故障的物业应及时维修，安全隐患可向市场监管部门反映", "电梯编号",
         ["电梯经常坏", "电梯困人"]),
        ("小区停车管理", "小区车位收费和停车秩序由物业按规定管理", "车位合同",
         ["小区停车位收费", "物业不给车进小区"]),
        ("房屋漏水维修", "保修期内房屋漏水由开发商负责维修，保修期外由业主或物业处理", "购房合同",
         ["楼上漏水到我家", "房子渗水"]),
        ("物业交接", "新旧物业服务企业应办理交接手续，不得拒不退出", "交接清单",
         ["换物业公司", "旧物业不肯走"]),
    ]),
    "消费维权": ("市场监督管理局", "scjg", [
        ("网购商品退货", "网购商品自收到之日起七日内可无理由退货", "订单截图",
         ["网上买的东西退款", "网购七天无理由退款"]),
        ("预付卡退费", "经营者停业或拒绝履行服务的，消费者可要求退还预付款", "预付卡",
         ["健身卡退钱", "美容院办卡跑路"]),
        ("食品安全投诉", "发现过期变质食品可向市场监管部门投诉举报", "购物小票",
         ["买到过期食品", "吃东西吃坏肚子投诉商家"]),
        ("价格欺诈举报", "经营者虚构原价、虚假优惠的可举报价格欺诈", "价格标签照片",
         ["商家乱标价", "先涨价再打折"]),
        ("商品质量投诉", "购买的商品存在质量问题的可要求修理、更换或退货", "购货凭证",
         ["买的东西质量差", "家电坏了商家不管"]),
        ("维修服务纠纷", "维修服务乱收费或维修不到位的可投诉", "维修单",
         ["修手机乱收钱", "上门维修乱收费"]),
        ("汽车消费纠纷", "新车存在质量问题符合三包条件的可要求换车或退车", "购车发票",
         ["买新车有问题退货", "汽车三包"]),
        ("虚假广告举报", "发布虚假违法广告的可向市场监管部门举报", "广告截图",
         ["广告骗人", "保健品夸大宣传"]),
    ]),
    "交通": ("交通运输局", "jtj", [
        ("驾驶证换证", "机动车驾驶证有效期满前90日内申请换证", "体检证明",
         ["驾照到期换证", "驾驶执照过期了"]),
        ("违章处理", "交通违法可通过交管12123或窗口处理并缴纳罚款", "行驶证",
         ["交通违法扣分罚款", "违法停车罚单处理"]),
        ("公交线路咨询", "公交线路和首末班时间可在公交查询平台查询", "线路名称",
         ["坐公交车几点末班", "巴士线路怎么走"]),
        ("出租车投诉", "出租车拒载、绕路、不打表的可向交通部门投诉", "车牌号",
         ["的士绕路", "打车被拒载"]),
        ("机动车年检", "非营运小型客车6年内免检，需每两年申领检验标志", "交强险保单",
         ["小汽车年审", "车辆检验标志"]),
        ("网约车投诉", "网约车乘客可通过平台或向交通部门投诉", "订单记录",
         ["滴滴司机态度差", "网约车多收钱"]),
        ("道路破损报修", "市政道路破损、井盖缺失可报修", "具体位置",
         ["马路有坑", "井盖不见了"]),
        ("新能源汽车上牌", "新能源汽车可申领绿色号牌，享受不限行政策", "购车发票",
         ["电动汽车挂牌", "新能源车上牌照"]),
    ]),
    "营商环境": ("政务服务数据管理局", "zsj", [
        ("企业开办", "企业开办实现一网通办，一个工作日内办结营业执照、刻章、申领发票", "公司章程",
         ["注册公司", "开公司要多久"]),
        ("个体工商户登记", "个体工商户可通过网上登记申领营业执照", "经营场所证明",
         ["开小店办执照", "个体户营业执照申请"]),
        ("企业注销", "企业可申请简易注销或一般注销", "清算报告",
         ["公司不做了注销", "关闭公司"]),
        ("食品经营许可", "从事食品销售和餐饮服务的应取得食品经营许可证", "食品安全管理制度",
         ["开饭店办许可证", "卖吃的要什么证"]),
        ("惠企政策申报", "符合条件的企业可在惠企平台申报政策补贴", "企业申报材料",
         ["企业补贴申请", "公司能领什么补助"]),
        ("工程建设项目审批", "工程建设项目审批实行并联审批和限时办结", "项目立项文件",
         ["盖厂房审批", "工程项目报建"]),
        ("涉企收费投诉", "行政机关违规向企业收费的可投诉", "收费凭据",
         ["企业被乱收费", "部门乱收企业钱"]),
        ("营业执照变更", "企业名称、住所、法定代表人变更的应申请变更登记", "变更决议",
         ["公司换地址改执照", "执照法人变更"]),
    ]),
}

ASPECTS = {
    "办理指南": ("{audience}办理{item}，由{district}{agency}{town}服务窗口受理，地址在{town}政务服务中心一楼。{desc}。",
             ["在哪个窗口办理", "去哪里办理地址"]),
    "所需材料": ("{audience}申请{item}需提交以下材料：居民身份证原件及复印件、{material}、申请表。"
             "材料不齐全的，窗口一次性告知补正。",
             ["要带什么资料", "需要准备哪些材料"]),
    "办理流程": ("{item}办理步骤：第一步网上或窗口提交申请；第二步{agency}审核；第三步领取结果。{desc}。",
             ["办理步骤", "流程是怎样的"]),
    "收费标准": ("{item}收费标准：{town}窗口办理{item}不收取任何费用，谨防假冒收费。{desc}。",
             ["收费吗", "要交多少费用"]),
    "办理时限": ("{item}的承诺办结时限为{days}个工作日，法定时限为{legal}个工作日，{town}窗口可加急。",
             ["几个工作日办好", "办结时限多久"]),
    "常见问题": ("问：{audience}在{town}办理{item}有哪些常见问题？答：{desc}。如有疑问请拨打0757-{phone}。",
             ["常见问题解答", "常见问题"]),
}
AUDIENCES = {"本地户籍居民": "本地人", "外来务工人员": "外地打工的", "退休人员": "退休老人", "企业职工": "上班族"}


def generate(n: int, rng: random.Random) -> list[dict]:
    combos = list(product(TOPICS, range(8), [(d, t) for d, ts in TOWNS.items() for t in ts], ASPECTS, AUDIENCES))
    rng.shuffle(combos)
    articles = []
    for i, (topic, item_no, (district, town), aspect, audience) in enumerate(combos[:n]):
        agency, unit, items = TOPICS[topic]
        item, desc, material, paraphrases = items[item_no]
        body = ASPECTS[aspect][0].format(audience=audience, item=item, district=district, agency=agency, town=town,
                                         desc=desc, material=material, days=rng.randint(1, 10),
                                         legal=rng.randint(10, 30), phone=rng.randint(20000000, 29999999))
        articles.append({
            "id": i + 1, "title": f"{district}{town}{audience}{item}{aspect}", "body": body, "category": "consult",
            "article_type": "business", "owner_unit": f"fs-{DISTRICT_CODES[district]}-{unit}",
            "status": "published", "created_by": "bench", "use_count": 0, "change_seq": i + 1,
            "_query": (town, audience, paraphrases, aspect),
        })
    return articles


def labelled_queries(articles: list[dict], rng: random.Random) -> list[tuple[str, int]]:
    out = []
    for article in rng.sample(articles, N_LABELLED):
        town, audience, paraphrases, aspect = article["_query"]
        short_town = town.removesuffix("街道").removesuffix("镇") if rng.random() < 0.6 else town
        query = f"{short_town}{AUDIENCES[audience]}{rng.choice(paraphrases)}{rng.choice(ASPECTS[aspect][1])}"
        out.append((query, article["id"]))
    return out


def broad_queries() -> list[str]:
    """Queries of frequent words only (district, audience, aspect: 顺德区外来务工人员所需材料): no word narrows
    the candidates, the search's most expensive case."""
    return [f"{district}{audience}{aspect}" for district in TOWNS for audience in AUDIENCES for aspect in ASPECTS]


def latency_queries(articles: list[dict], labelled: list[tuple[str, int]], rng: random.Random) -> list[str]:
    short = [p for _, _, items in TOPICS.values() for *_, ps in items for p in ps] + list(TOPICS)
    queries = [q for q, _ in labelled]
    while len(queries) < N_LATENCY_QUERIES:
        queries.append(rng.choice(short) if rng.random() < 0.5 else rng.choice(articles)["title"])
    return queries


def to_indexed_row(article: dict) -> IndexedArticle:
    return IndexedArticle(article["id"], article["title"], article["body"], article["category"],
                          article["owner_unit"], article["article_type"])


def like_search(conn, query: str, analyzer_terms: list[str]) -> list[int]:  # type: ignore[no-untyped-def]
    """The naive baseline: every term a bound LIKE pattern (the SQL shape depends only on the term count)."""
    if not analyzer_terms:
        return []
    parts, params = [], {}
    for i, term in enumerate(analyzer_terms):
        params[f"t{i}"] = "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        parts.append(f"(CASE WHEN title LIKE :t{i} ESCAPE '\\' THEN 3 ELSE 0 END"
                     f" + CASE WHEN body LIKE :t{i} ESCAPE '\\' THEN 1 ELSE 0 END)")
    sql = (f"SELECT id FROM kb_articles WHERE status = 'published' ORDER BY ({' + '.join(parts)}) DESC, id "
           "LIMIT 3")
    return [row[0] for row in conn.execute(text(sql), params)]


def closed_loop(kb: KnowledgeBase, queries: list[str], *, cold: bool = False,
                **kw: object) -> tuple[list[float], list[float]]:
    """Queries back to back: wall and thread-CPU milliseconds of each (cold: without the query-analysis
    cache, every query cut by jieba again)."""
    wall, cpu = [], []
    for q in queries:
        if cold:
            kb.index.analyzer.query_words.cache_clear()
        t, c = time.perf_counter(), time.thread_time()
        kb.search(q, **kw)  # type: ignore[arg-type]
        cpu.append((time.thread_time() - c) * 1000)
        wall.append((time.perf_counter() - t) * 1000)
    return wall, cpu


def pop_loop(kb: KnowledgeBase, n: int) -> tuple[list[float], list[float]]:
    """Screen pops without text: the category's most used articles."""
    wall, cpu = [], []
    for _ in range(n):
        t, c = time.perf_counter(), time.thread_time()
        kb.hits_for_call("consult", limit=5)
        cpu.append((time.thread_time() - c) * 1000)
        wall.append((time.perf_counter() - t) * 1000)
    return wall, cpu


def paced(kb: KnowledgeBase, queries: list[str], rate: float) -> list[float]:
    """Queries at a fixed rate; each latency runs from the query's scheduled start to its answer."""
    out = []
    start = time.perf_counter()
    for i, q in enumerate(queries):
        due = start + i / rate
        if (wait := due - time.perf_counter()) > 0:
            time.sleep(wait)
        kb.search(q)
        out.append((time.perf_counter() - due) * 1000)
    return out


def main() -> dict:
    import jieba
    import psutil

    rng = random.Random(SEED)
    articles = generate(N_ARTICLES, rng)
    labelled = labelled_queries(articles, rng)
    queries = latency_queries(articles, labelled, rng)
    figures: dict = {"articles": len(articles), "labelled_queries": len(labelled),
                     "latency_queries": len(queries), "load_average_1m_start": round(os.getloadavg()[0], 2)}

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'kb.db'}"
        upgrade_to_head(url)
        engine = make_engine(url)
        factory = make_session_factory(engine)
        from hotline.kb.models import utcnow

        now = utcnow()
        analyzer = Analyzer()
        # What services do on every write: analyse once, store the terms with the article.
        c0 = time.process_time()
        encoded = [analyzer.encode(a["title"], a["body"]) for a in articles]
        figures["analyse_cpu_ms_per_article"] = (time.process_time() - c0) * 1000 / len(articles)
        with factory() as session:
            rows = [{k: v for k, v in a.items() if not k.startswith("_")}
                    | {"created_at": now, "updated_at": now, "index_terms": terms}
                    for a, terms in zip(articles, encoded, strict=True)]
            session.execute(insert(KbArticle), rows)
            session.execute(update(KbState).where(KbState.id == 1).values(version=len(rows)))
            session.commit()
            del rows

        # A worker without stored terms would run jieba on every article: measured on 10,000 of them.
        cold = SearchIndex(analyzer)
        c0 = time.process_time()
        cold.upsert_many([to_indexed_row(a) for a in articles[:10_000]])
        figures["index_build_without_stored_terms_cpu_s_per_10k"] = time.process_time() - c0
        del cold

        gc.collect()
        rss_before = psutil.Process().memory_info().rss
        t0, c0 = time.perf_counter(), time.process_time()
        kb = KnowledgeBase(factory, analyzer)  # default check interval, as a console worker runs it
        kb.refresh()
        figures["index_load_s"] = time.perf_counter() - t0
        figures["index_load_cpu_s"] = time.process_time() - c0
        gc.collect()
        figures["index_rss_mb"] = (psutil.Process().memory_info().rss - rss_before) / 2**20

        # -- quality ----------------------------------------------------------------------------------------
        hits = sum(any(h.article_id == target for h in kb.search(q, limit=3)) for q, target in labelled)
        figures["top3_hit_rate"] = hits / len(labelled)
        figures["top1_hit_rate"] = sum(
            bool(r) and r[0].article_id == target for q, target in labelled for r in [kb.search(q, limit=1)]
        ) / len(labelled)

        # -- baselines, prepared -----------------------------------------------------------------------------
        plain = jieba.Tokenizer()  # no synonyms: what a first version would do
        plain.initialize()

        def plain_terms(q: str) -> list[str]:
            return list(dict.fromkeys(t for t in plain.cut_for_search(q) if t.strip() and t not in STOP_WORDS))

        try:
            from rank_bm25 import BM25Okapi
        except ImportError:
            bm25 = None
            figures["rank_bm25"] = "not installed"
        else:
            corpus = []
            for terms in encoded:
                title, body = analyzer.decode(terms)  # type: ignore[misc]
                corpus.append(title * 2 + body)
            bm25 = BM25Okapi(corpus)
            del corpus
        del encoded
        ids = np.array([a["id"] for a in articles])
        like_samples: list[float] = []
        like_hits = 0
        bm25_samples: list[float] = []
        bm25_hits = 0
        gc.collect()

        # -- latency: alternating rounds ------------------------------------------------------------------
        for q in queries[:50]:
            kb.search(q)
        rounds: list[dict[str, float]] = []
        broad = broad_queries()
        per_round = -(-len(labelled) // ROUNDS)
        with engine.connect() as conn:
            for r in range(ROUNDS):
                wall, cpu = closed_loop(kb, queries, limit=10)
                paced_ms = paced(kb, queries, PACED_RATE)
                unit_wall, unit_cpu = closed_loop(kb, queries[:300], unit="fs-sd-rsj", limit=10)
                cold_wall, cold_cpu = closed_loop(kb, queries, limit=10, cold=True)
                pops_wall, pops_cpu = pop_loop(kb, 300)
                broad_wall, broad_cpu = closed_loop(kb, broad, limit=10)
                rounds.append({
                    "p50": percentile(wall, 50), "p99": percentile(wall, 99), "max": max(wall),
                    "cpu_p50": percentile(cpu, 50), "cpu_p99": percentile(cpu, 99),
                    "paced_p50": percentile(paced_ms, 50), "paced_p99": percentile(paced_ms, 99),
                    "unit_p99": percentile(unit_wall, 99), "unit_cpu_p99": percentile(unit_cpu, 99),
                    "cold_p99": percentile(cold_wall, 99), "cold_cpu_p99": percentile(cold_cpu, 99),
                    "pop_p99": percentile(pops_wall, 99), "pop_cpu_p99": percentile(pops_cpu, 99),
                    "broad_p99": percentile(broad_wall, 99), "broad_cpu_p99": percentile(broad_cpu, 99),
                    "load": os.getloadavg()[0]})
                for q, target in labelled[r * per_round:(r + 1) * per_round]:
                    terms = plain_terms(q)
                    t = time.perf_counter()
                    found = like_search(conn, q, terms)
                    like_samples.append((time.perf_counter() - t) * 1000)
                    like_hits += target in found
                    if bm25 is not None:
                        t = time.perf_counter()
                        scores = bm25.get_scores(analyzer.query_terms(q))
                        top = ids[np.argsort(-scores)[:3]]
                        bm25_samples.append((time.perf_counter() - t) * 1000)
                        bm25_hits += target in top
        best = min(rounds, key=lambda x: x["p99"])
        figures["p50_ms"] = best["p50"]
        figures["p99_ms"] = best["p99"]
        figures["max_ms"] = best["max"]
        # CPU time of the searching thread: what the code costs, without the waits of a shared machine.
        figures["p50_cpu_ms"] = best["cpu_p50"]
        figures["p99_cpu_ms"] = best["cpu_p99"]
        figures["load_average_1m_best_round"] = round(best["load"], 2)
        figures["p99_ms_median_round"] = statistics.median(x["p99"] for x in rounds)
        figures["p99_ms_worst_round"] = max(x["p99"] for x in rounds)
        figures["p99_cpu_ms_worst_round"] = max(x["cpu_p99"] for x in rounds)
        figures["load_average_1m_max_round"] = round(max(x["load"] for x in rounds), 2)
        figures["target_p99_ms"] = 10.0
        figures["meets_target"] = figures["p99_ms"] <= 10.0
        figures["meets_target_every_round"] = figures["p99_ms_worst_round"] <= 10.0
        figures["paced_rate_per_s"] = PACED_RATE
        figures["paced_p50_ms"] = min(x["paced_p50"] for x in rounds)
        for key, name in (("paced_p99", "paced_p99_ms"), ("unit_p99", "p99_ms_unit_filter"),
                          ("unit_cpu_p99", "p99_cpu_ms_unit_filter"), ("cold_p99", "p99_ms_uncached_analysis"),
                          ("cold_cpu_p99", "p99_cpu_ms_uncached_analysis"), ("pop_p99", "pop_without_text_p99_ms"),
                          ("pop_cpu_p99", "pop_without_text_p99_cpu_ms"),
                          ("broad_p99", "p99_ms_frequent_words_only"),
                          ("broad_cpu_p99", "p99_cpu_ms_frequent_words_only")):
            figures[name] = min(x[key] for x in rounds)
            figures[f"{name}_median_round"] = statistics.median(x[key] for x in rounds)

        # -- freshness: an article changed by another writer, served by this process -----------------------
        # With the background check (every 0.5 s while in use): from the commit until a query sees it.
        with factory() as session:
            services.update_article(session, 1, {"title": "互联网租赁自行车停放管理"}, "bench")
        t = time.perf_counter()
        while not (found := kb.search("互联网租赁自行车", limit=1)) or found[0].article_id != 1:
            time.sleep(0.001)
        figures["change_served_after_ms"] = (time.perf_counter() - t) * 1000
        kb.close()
        # The refresh itself (stamp read, the changed row, the index update), called directly.
        with factory() as session:
            services.update_article(session, 2, {"title": "共享电单车停放管理"}, "bench")
        t = time.perf_counter()
        kb.refresh()
        figures["incremental_refresh_ms"] = (time.perf_counter() - t) * 1000
        assert kb.search("共享电单车")[0].article_id == 2

        figures["baseline_like_p50_ms"] = percentile(like_samples, 50)
        figures["baseline_like_p99_ms"] = percentile(like_samples, 99)
        figures["baseline_like_top3_hit_rate"] = like_hits / len(labelled)
        if bm25 is not None:
            figures["rank_bm25_p50_ms"] = percentile(bm25_samples, 50)
            figures["rank_bm25_p99_ms"] = percentile(bm25_samples, 99)
            figures["rank_bm25_top3_hit_rate"] = bm25_hits / len(labelled)
        engine.dispose()

    # The machine is shared: wall-clock percentiles include waits for a CPU, which the load shows.
    figures["load_average_1m"] = round(os.getloadavg()[0], 2)
    figures["cpus"] = os.cpu_count()
    write_results("kb_search", figures)
    return figures


if __name__ == "__main__":
    main()
