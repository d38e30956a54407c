-- Ngày nghỉ lễ, Tết chính thức và ngày làm bù của cơ quan hành chính nhà nước, năm 2025–2027.
--
-- Nguồn số liệu:
--   * Bộ luật Lao động 2019, Điều 112 (11 ngày nghỉ lễ, Tết hưởng nguyên lương; ngày lễ trùng
--     ngày nghỉ hằng tuần thì được nghỉ bù vào ngày làm việc kế tiếp).
--   * 2025: Thông báo của Bộ Lao động – Thương binh và Xã hội về lịch nghỉ Tết Ất Tỵ (nghỉ 25/01–02/02/2025),
--     Quốc khánh (nghỉ 30/08–02/09/2025) và hoán đổi ngày làm việc dịp 30/4–1/5 (nghỉ thứ Sáu 02/05,
--     làm bù thứ Bảy 26/04/2025).
--   * 2026: Văn bản 12729/VPCP-KGVX ngày 25/12/2025 (Tết Dương lịch: nghỉ 01/01–04/01/2026, hoán đổi
--     thứ Sáu 02/01 sang thứ Bảy 10/01/2026); Thông báo 9441/TB-BNV ngày 16/10/2025 của Bộ Nội vụ
--     (Tết Bính Ngọ: nghỉ 14/02–22/02/2026; Quốc khánh: nghỉ 29/08–02/09/2026, hoán đổi thứ Hai 31/08
--     sang thứ Bảy 22/08/2026). Giỗ Tổ 10/3 âm lịch rơi vào Chủ nhật 26/04/2026 nên nghỉ bù thứ Hai 27/04.
--   * 2027: CHƯA có thông báo của Chính phủ tại thời điểm soạn; lịch dưới đây suy ra từ Bộ luật Lao động
--     (Tết Đinh Mùi: mùng 1 = thứ Bảy 06/02/2027, nghỉ 28 tháng Chạp – mùng 3 Tết, mùng 1 và mùng 2 trùng
--     cuối tuần nên nghỉ bù 09/02 và 10/02; Giỗ Tổ 16/04/2027; 1/5 trùng thứ Bảy nên nghỉ bù 03/05;
--     Quốc khánh 02/09 và ngày liền kề 03/09). Cần đối chiếu lại khi Chính phủ công bố.
--   * Ngày Văn hóa Việt Nam 24/11 (Nghị quyết 80-NQ/TW) chưa được bổ sung vào Điều 112 Bộ luật Lao động
--     nên chưa đưa vào danh sách.
--
-- Chỉ liệt kê ngày thường (thứ Hai – thứ Sáu) được nghỉ; thứ Bảy, Chủ nhật vốn là ngày nghỉ.
-- kind = 'working_day' là thứ Bảy làm bù theo quyết định hoán đổi ngày làm việc.
-- Quản trị viên điều chỉnh qua API: PUT /api/v1/holidays/{date}.
INSERT INTO holidays (day, kind, name) VALUES
    -- 2025
    ('2025-01-01', 'holiday', 'Tết Dương lịch'),
    ('2025-01-27', 'holiday', 'Tết Nguyên đán Ất Tỵ (28 tháng Chạp)'),
    ('2025-01-28', 'holiday', 'Tết Nguyên đán Ất Tỵ (29 tháng Chạp)'),
    ('2025-01-29', 'holiday', 'Tết Nguyên đán Ất Tỵ (mùng 1)'),
    ('2025-01-30', 'holiday', 'Tết Nguyên đán Ất Tỵ (mùng 2)'),
    ('2025-01-31', 'holiday', 'Tết Nguyên đán Ất Tỵ (mùng 3)'),
    ('2025-04-07', 'holiday', 'Giỗ Tổ Hùng Vương (10/3 âm lịch)'),
    ('2025-04-26', 'working_day', 'Làm bù cho ngày nghỉ thứ Sáu 02/05/2025'),
    ('2025-04-30', 'holiday', 'Ngày Giải phóng miền Nam, thống nhất đất nước'),
    ('2025-05-01', 'holiday', 'Ngày Quốc tế Lao động'),
    ('2025-05-02', 'holiday', 'Nghỉ hoán đổi dịp 30/4 – 1/5 (làm bù thứ Bảy 26/04/2025)'),
    ('2025-09-01', 'holiday', 'Quốc khánh (ngày liền kề)'),
    ('2025-09-02', 'holiday', 'Quốc khánh'),
    -- 2026
    ('2026-01-01', 'holiday', 'Tết Dương lịch'),
    ('2026-01-02', 'holiday', 'Nghỉ hoán đổi dịp Tết Dương lịch (làm bù thứ Bảy 10/01/2026)'),
    ('2026-01-10', 'working_day', 'Làm bù cho ngày nghỉ thứ Sáu 02/01/2026'),
    ('2026-02-16', 'holiday', 'Tết Nguyên đán Bính Ngọ (29 tháng Chạp)'),
    ('2026-02-17', 'holiday', 'Tết Nguyên đán Bính Ngọ (mùng 1)'),
    ('2026-02-18', 'holiday', 'Tết Nguyên đán Bính Ngọ (mùng 2)'),
    ('2026-02-19', 'holiday', 'Tết Nguyên đán Bính Ngọ (mùng 3)'),
    ('2026-02-20', 'holiday', 'Tết Nguyên đán Bính Ngọ (mùng 4)'),
    ('2026-04-27', 'holiday', 'Nghỉ bù Giỗ Tổ Hùng Vương (10/3 âm lịch trùng Chủ nhật 26/04)'),
    ('2026-04-30', 'holiday', 'Ngày Giải phóng miền Nam, thống nhất đất nước'),
    ('2026-05-01', 'holiday', 'Ngày Quốc tế Lao động'),
    ('2026-08-22', 'working_day', 'Làm bù cho ngày nghỉ thứ Hai 31/08/2026'),
    ('2026-08-31', 'holiday', 'Nghỉ hoán đổi dịp Quốc khánh (làm bù thứ Bảy 22/08/2026)'),
    ('2026-09-01', 'holiday', 'Quốc khánh (ngày liền kề)'),
    ('2026-09-02', 'holiday', 'Quốc khánh'),
    -- 2027 (dự kiến theo Bộ luật Lao động, chưa có thông báo chính thức)
    ('2027-01-01', 'holiday', 'Tết Dương lịch'),
    ('2027-02-04', 'holiday', 'Tết Nguyên đán Đinh Mùi (28 tháng Chạp)'),
    ('2027-02-05', 'holiday', 'Tết Nguyên đán Đinh Mùi (29 tháng Chạp)'),
    ('2027-02-08', 'holiday', 'Tết Nguyên đán Đinh Mùi (mùng 3)'),
    ('2027-02-09', 'holiday', 'Nghỉ bù Tết Nguyên đán Đinh Mùi (mùng 1 trùng thứ Bảy)'),
    ('2027-02-10', 'holiday', 'Nghỉ bù Tết Nguyên đán Đinh Mùi (mùng 2 trùng Chủ nhật)'),
    ('2027-04-16', 'holiday', 'Giỗ Tổ Hùng Vương (10/3 âm lịch)'),
    ('2027-04-30', 'holiday', 'Ngày Giải phóng miền Nam, thống nhất đất nước'),
    ('2027-05-03', 'holiday', 'Nghỉ bù Ngày Quốc tế Lao động (01/05 trùng thứ Bảy)'),
    ('2027-09-02', 'holiday', 'Quốc khánh'),
    ('2027-09-03', 'holiday', 'Quốc khánh (ngày liền kề)');
